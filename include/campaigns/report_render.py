"""A run report rendered for people: the per-contact CSV and one self-contained HTML page.

Pure functions over the dict that reporting.build_report produces: no database, no Airflow,
stdlib only, so they run the same on a worker, in a test or on a laptop.

The page is opened from S3 or a mail attachment, often offline or behind a proxy, so it carries
everything itself: inline CSS, charts as hand-written SVG, no script, no fonts, no images, no
links. Every figure on it is read from the report dict and never recomputed here, so the page
cannot disagree with the JSON stored beside it. KPI values carry data-kpi, chart bars
data-series / data-key / data-value, and table cells data-table / data-key / data-col /
data-value, so tests read the figures back from the markup.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from html import escape
from typing import IO

CSV_COLUMNS = ("contact_id", "external_ref", "phone_masked", "status", "attempts",
               "last_outcome", "last_attempt_at", "status_reason")

DASH = "—"

FUNNEL_STEPS = (("contacts", "Contacts"), ("eligible", "Eligible"), ("dispatched", "Dispatched"),
                ("dialed", "Dialed"), ("answered", "Answered"), ("converted", "Converted"))

BLOCK_LABELS = {"blacklist": "Blacklisted", "outside_window": "Outside calling window",
                "legal_hours": "Outside legal hours", "cap": "Frequency cap",
                "invalid_number": "Invalid number", "expired": "Expired, never reached",
                "no_consent": "No consent", "lockout": "Lockout after an outcome",
                "retry_later": "Retry delay", "blackout": "Declared blackout", "unresolved": "Not yet checked"}

# Badge colour per run outcome; an outcome not listed here gets the neutral badge.
OUTCOME_TONES = {"completed": "good", "cancelled": "muted", "failed": "bad",
                 "validation_failed": "bad", "timed_out": "warn"}

PALETTE = {"funnel": "#2563eb", "blocked": "#b45309", "hours": "#0f766e", "attempts": "#4f46e5"}


class RenderedCsv:
    """A CSV already rendered elsewhere in exactly render_csv's format (PostgreSQL's COPY, for a
    million-contact campaign): UTF-8 chunks, header first, CRLF line ends. ``rows`` is the number of
    data rows, known once the chunks have been read through."""

    rows: int | None = None

    def __iter__(self) -> Iterator[bytes]:
        raise NotImplementedError


def render_csv(rows: Iterable[dict]) -> str:
    """The per-contact outcomes CSV as one string (small campaigns, tests)."""
    buffer = io.StringIO(newline="")
    render_csv_to(buffer, rows)
    return buffer.getvalue()


def render_csv_to(handle: IO[str], rows: Iterable[dict] | RenderedCsv) -> int:
    """Stream the CSV to an open text file, so a large campaign never sits in memory; returns rows written.

    The handle must be opened with newline="" (the csv module writes its own CRLF line ends).
    """
    if isinstance(rows, RenderedCsv):
        return _copy_rendered(handle, rows)
    writer = csv.writer(handle)
    writer.writerow(CSV_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([_csv_cell(row.get(column)) for column in CSV_COLUMNS])
        count += 1
    return count


def _copy_rendered(handle: IO[str], rendered: RenderedCsv) -> int:
    # A chunk may end inside a multi-byte character; the incremental decoder carries it over.
    decoder = codecs.getincrementaldecoder("utf-8")()
    for chunk in rendered:
        handle.write(decoder.decode(chunk))
    handle.write(decoder.decode(b"", final=True))
    assert rendered.rows is not None, "a RenderedCsv knows its row count once read through"
    return rendered.rows


def _csv_cell(value) -> object:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


def fmt_int(value) -> str:
    return DASH if value is None else f"{value:,}"


def fmt_pct(rate) -> str:
    return DASH if rate is None else f"{rate * 100:.1f}%"


def fmt_seconds(seconds) -> str:
    return DASH if seconds is None else f"{seconds:,.1f} s"


def fmt_duration(seconds) -> str:
    """Durations as a person reads them; seconds are dropped once a duration runs into hours."""
    if seconds is None:
        return DASH
    hours, rest = divmod(int(round(seconds)), 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours:,} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def _text(value) -> str:
    """Any report value as escaped text; None reads as a dash rather than the word None."""
    return DASH if value is None else escape(str(value))


def _data_value(value) -> str:
    # repr of a float is its shortest exact form, so a test can compare it with == after float().
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def render_html(report: dict) -> str:
    campaign = report["campaign"]
    body = "".join([
        _header(report),
        _dry_run_section(report.get("dry_run")),
        _kpi_section(report),
        _section("Funnel", "From every contact of the campaign to the calls that converted.",
                 _funnel_chart(report["funnel"])),
        _blocked_section(report["blocked"], report.get("blocked_by_jurisdiction")),
        _abandonment_section(report.get("abandonment")),
        _section("Answer rate by local hour",
                 "Share of dialed calls answered, by the contact's local hour. Hover a bar for the "
                 "calls dialed in that hour; hours with no calls have no bar.",
                 _hour_chart(report["answer_rate_by_local_hour"])),
        _section("Attempts per contact", "How many dial attempts each contact has had.",
                 _attempts_chart(report["attempts_distribution"])),
        _outcomes_section(report["calls"], report["contacts"]),
        _quarantine_section(report.get("quarantined_results")),
        _footer(report),
    ])
    title = f"{campaign['name']} · run report"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f'<body>\n<main class="page">{body}</main>\n</body>\n</html>\n'
    )


def _header(report: dict) -> str:
    campaign, run = report["campaign"], report["run"]
    outcome = report["outcome"]
    tone = OUTCOME_TONES.get(outcome, "neutral")
    badges = [f'<span class="badge {tone}" data-meta="outcome">{_text(outcome)}</span>']
    if run.get("dry_run"):
        badges.append('<span class="badge warn">Dry run</span>')
    if not run.get("live", True):
        # A run whose interval was already over dials nobody: it only regenerates the report.
        badges.append('<span class="badge muted">Report regenerated</span>')
    meta = [("Run", "run_id", report["run_id"]), ("Start", "start", run["start"]),
            ("End", "end", run["end"]), ("Duration", "duration", fmt_duration(run.get("duration_s"))),
            ("Generated", "generated_at", report["generated_at"])]
    if report.get("s3_uri"):
        meta.append(("Report location", "s3_uri", report["s3_uri"]))
    for name, uri in (report.get("files") or {}).items():
        meta.append((name, f"file:{name}", uri))
    items = "".join(f'<div><dt>{_text(label)}</dt><dd data-meta="{_text(key)}">{_text(value)}</dd></div>'
                    for label, key, value in meta)
    note = (f'<p class="note" data-meta="note">{_text(run["note"])}</p>' if run.get("note") else "")
    return (
        '<header class="head">'
        '<p class="eyebrow">Outbound campaign · run report</p>'
        f'<h1 data-meta="name">{_text(campaign["name"])}</h1>'
        f'<p class="sub"><code data-meta="slug">{_text(campaign["slug"])}</code>'
        f'<span class="sep">campaign #<span data-meta="campaign_id">{_text(campaign["id"])}</span></span>'
        f'{"".join(badges)}</p>'
        f'<dl class="meta">{items}</dl>{note}</header>'
    )


def _dry_run_section(dry_run: dict | None) -> str:
    if not dry_run:
        return ""
    sample = dry_run.get("sample") or []
    phones = "".join(f'<li data-meta="sample">{_text(phone)}</li>' for phone in sample)
    listing = f'<ul class="phones">{phones}</ul>' if phones else '<p class="empty">No sample.</p>'
    tile = _kpi_tile("would_dispatch", "Would dispatch", fmt_int(dry_run.get("would_dispatch")))
    skipped = ""
    if "skipped_by_reason" in dry_run:
        tile += _kpi_tile("eligible", "Eligible now", fmt_int(dry_run.get("eligible")))
        tile += _kpi_tile("skipped", "Skipped", fmt_int(dry_run.get("skipped")))
        rows = [(reason, [(BLOCK_LABELS.get(reason, _label(reason)), None)], [("contacts", n, fmt_int(n))])
                for reason, n in dry_run["skipped_by_reason"].items()]
        skipped = (f'<h3>Skipped at {_text(dry_run.get("at", ""))}, by reason</h3>'
                   + _table("skipped", ["Reason", "Contacts"], rows, empty="Nobody is skipped.")
                   + "<h3>Skipped, by jurisdiction</h3>"
                   + _by_jurisdiction_table("skipped_by_jurisdiction", dry_run["skipped_by_jurisdiction"],
                                            empty="Nobody is skipped."))
    return _section(
        "Dry run", "Contacts were selected as a live run would, and nothing was sent.",
        f'<div class="kpis">{tile}</div>{skipped}<h3>Sample of numbers that would be dialed</h3>{listing}',
        tone="warn")


def _kpi_section(report: dict) -> str:
    funnel, rates = report["funnel"], report["rates"]
    tiles = [
        ("contacts", "Contacts", fmt_int(funnel["contacts"]), "in the campaign"),
        ("dispatched", "Dispatched", fmt_int(funnel["dispatched"]), "contacts sent to the dialer"),
        ("dialed", "Dialed", fmt_int(funnel["dialed"]), "contacts called"),
        ("answered", "Answered", fmt_int(funnel["answered"]), "contacts who picked up"),
        ("asr", "ASR", fmt_pct(rates["asr"]), "answered calls ÷ calls placed"),
        ("acd_s", "ACD", fmt_seconds(rates["acd_s"]), "average answered call"),
        ("conversion_rate", "Conversion", fmt_pct(rates["conversion_rate"]), "converted ÷ answered"),
        ("opt_outs", "Opt-outs", fmt_int(rates["opt_outs"]), "asked not to be called"),
    ]
    return f'<section class="kpis">{"".join(_kpi_tile(*tile) for tile in tiles)}</section>'


def _kpi_tile(name: str, label: str, value: str, hint: str = "") -> str:
    hint_html = f'<div class="kpi-hint">{escape(hint)}</div>' if hint else ""
    return (f'<div class="kpi"><div class="kpi-label">{escape(label)}</div>'
            f'<div class="kpi-value" data-kpi="{escape(name)}">{escape(value)}</div>{hint_html}</div>')


def _section(title: str, lede: str, content: str, *, tone: str = "") -> str:
    classes = f"card {tone}" if tone else "card"
    return (f'<section class="{classes}"><h2>{escape(title)}</h2>'
            f'<p class="lede">{escape(lede)}</p>{content}</section>')


def _funnel_chart(funnel: dict) -> str:
    items = [(key, label, funnel.get(key)) for key, label in FUNNEL_STEPS]
    return _hbar_chart("funnel", items, color=PALETTE["funnel"], title="Campaign funnel")


def _blocked_section(blocked: dict, by_jurisdiction: dict | None = None) -> str:
    items = [(key, BLOCK_LABELS.get(key, _label(key)), value) for key, value in blocked.items()]
    rows = [(key, [(label, None)], [("contacts", value, fmt_int(value))]) for key, label, value in items]
    table = _table("blocked", ["Reason", "Contacts"], rows, empty="Nothing was blocked.")
    # Narrower drawing: it shares the row with the table, and its labels must stay legible there.
    chart = _hbar_chart("blocked", items, color=PALETTE["blocked"], title="Contacts blocked by reason", width=500)
    extra = ""
    if by_jurisdiction is not None:
        extra = ("<h3>By jurisdiction, now</h3>"
                 + _by_jurisdiction_table("blocked_by_jurisdiction", by_jurisdiction, empty="Nothing is blocked now."))
    return _section("Blocked contacts", "Contacts the rules kept from being dialed, by reason.",
                    f'<div class="split"><div>{table}</div><div>{chart}</div></div>{extra}')


def _by_jurisdiction_table(name: str, by_jurisdiction: dict, *, empty: str) -> str:
    """One row per jurisdiction, one column per reason it has contacts for."""
    reasons = sorted({reason for counts in by_jurisdiction.values() for reason in counts})
    headers = ["Jurisdiction", *(BLOCK_LABELS.get(r, _label(r)) for r in reasons), "Total"]
    rows = [(code, [(code, None)],
             [(r, counts.get(r, 0), fmt_int(counts.get(r, 0))) for r in reasons]
             + [("total", sum(counts.values()), fmt_int(sum(counts.values())))])
            for code, counts in sorted(by_jurisdiction.items())]
    return _table(name, headers, rows, empty=empty)


def _abandonment_section(measured: dict | None) -> str:
    if not measured:
        return ""
    state = "over the limit: no new dial tasks" if measured["exceeded"] else "within the limit"
    rows = [("rate", [("Abandoned ÷ live answers", None)],
             [("value", measured["rate"], fmt_pct(measured["rate"]))]),
            ("limit", [(f"Limit ({measured['window_days']} days)", None)],
             [("value", measured["limit"], fmt_pct(measured["limit"]))]),
            ("abandoned", [("Abandoned calls", None)], [("value", measured["abandoned"], fmt_int(measured["abandoned"]))]),
            ("live_answers", [("Live answers", None)],
             [("value", measured["live_answers"], fmt_int(measured["live_answers"]))])]
    table = _table("abandonment", ["Measure", "Value"], rows, empty="No calls.")
    return _section("Abandonment rate", f"Rolling {measured['window_days']} days, {state}. Source: "
                    f"{measured['source']}.", table)


def _outcomes_section(calls: dict, contacts: dict) -> str:
    # Busiest outcome first; the name breaks ties so the order is stable between runs.
    outcomes = sorted((calls.get("by_outcome") or {}).items(),
                      key=lambda item: (-(item[1].get("calls") or 0), item[0]))
    outcome_rows = [(name, [(_label(name), None)],
                     [("calls", entry.get("calls"), fmt_int(entry.get("calls"))),
                      ("talk_s", entry.get("talk_s"), fmt_duration(entry.get("talk_s")))])
                    for name, entry in outcomes]
    statuses = sorted((contacts.get("by_status") or {}).items(), key=lambda item: (-(item[1] or 0), item[0]))
    status_rows = [(name, [(_label(name), None)], [("contacts", count, fmt_int(count))])
                   for name, count in statuses]
    totals = (f'<p class="totals">Dialed <strong data-kpi="calls_dialed">{fmt_int(calls.get("dialed"))}</strong>'
              f' · answered <strong data-kpi="calls_answered">{fmt_int(calls.get("answered"))}</strong></p>')
    return _section(
        "Call outcomes", "Every dial attempt by the result the dialer reported, and where contacts stand now.",
        '<div class="split">'
        f'<div><h3>Calls by outcome</h3>{totals}'
        f'{_table("outcomes", ["Outcome", "Calls", "Talk time"], outcome_rows, empty="No calls were placed.")}</div>'
        f'<div><h3>Contacts by status</h3><p class="totals">Total '
        f'<strong data-kpi="contacts_total">{fmt_int(contacts.get("total"))}</strong></p>'
        f'{_table("status", ["Status", "Contacts"], status_rows, empty="No contacts.")}</div>'
        '</div>')


def _quarantine_section(quarantined: dict | None) -> str:
    if not quarantined:
        return ""
    rows = [(reason, [(_label(reason), None)], [("records", n, fmt_int(n))])
            for reason, n in sorted(quarantined.items())]
    return _section("Quarantined results", "Call records that did not match their dial task or were impossible: "
                    "kept aside, counted in no figure above, applied to no contact.",
                    _table("quarantined", ["Reason", "Records"], rows, empty="None."))


def _table(name: str, headers: list[str], rows: list, *, empty: str) -> str:
    """rows: (key, text cells, numeric cells); numeric cells are (column, raw value, shown text)."""
    head = "".join(f'<th class="num">{escape(h)}</th>' if i else f"<th>{escape(h)}</th>"
                   for i, h in enumerate(headers))
    if not rows:
        body = f'<tr><td colspan="{len(headers)}" class="empty">{escape(empty)}</td></tr>'
    else:
        body = "".join(
            "<tr>" + "".join(f"<td>{_text(text)}</td>" for text, _ in texts)
            + "".join(f'<td class="num" data-table="{escape(name)}" data-key="{_text(key)}" '
                      f'data-col="{escape(col)}" data-value="{escape(_data_value(raw))}">{escape(shown)}</td>'
                      for col, raw, shown in numbers) + "</tr>"
            for key, texts, numbers in rows)
    return f'<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _bar_attrs(series: str, key, value) -> str:
    return (f'data-series="{escape(series)}" data-key="{_text(key)}" '
            f'data-value="{escape(_data_value(value))}"')


def _scale(value, top, length: float) -> float:
    # Guards: an all-zero chart (top 0) and a value above its axis both stay inside the plot.
    if not value or not top or value < 0:
        return 0.0
    return min(value / top, 1.0) * length


HBAR_LABEL, HBAR_VALUE_ROOM, HBAR_ROW, HBAR_THICK = 180, 110, 32, 18


def _hbar_chart(series: str, items: list, *, color: str, title: str, width: int = 720) -> str:
    """Horizontal bars scaled to the largest value; the figure is printed at the end of each bar."""
    if not items:
        return '<p class="empty">No data.</p>'
    area = width - HBAR_LABEL - HBAR_VALUE_ROOM
    top = max((value or 0 for _, _, value in items), default=0)
    height = len(items) * HBAR_ROW + 8
    parts = []
    for i, (key, label, value) in enumerate(items):
        y = 4 + i * HBAR_ROW
        middle = y + HBAR_ROW / 2
        bar_y = y + (HBAR_ROW - HBAR_THICK) / 2
        length = _scale(value, top, area)
        parts.append(
            f'<text class="label" x="{HBAR_LABEL - 10}" y="{middle:.1f}" text-anchor="end" '
            f'dominant-baseline="middle">{_text(label)}</text>'
            f'<rect class="track" x="{HBAR_LABEL}" y="{bar_y:.1f}" width="{area}" height="{HBAR_THICK}" rx="3"/>'
            f'<rect x="{HBAR_LABEL}" y="{bar_y:.1f}" width="{length:.2f}" height="{HBAR_THICK}" rx="3" '
            f'fill="{color}" {_bar_attrs(series, key, value)}><title>{_text(label)}: {fmt_int(value)}</title></rect>'
            f'<text class="value" x="{HBAR_LABEL + length + 8:.2f}" y="{middle:.1f}" '
            f'dominant-baseline="middle">{fmt_int(value)}</text>')
    return _svg(width, height, title, "".join(parts))


VBAR_WIDTH, VBAR_HEIGHT, VBAR_LEFT, VBAR_RIGHT, VBAR_TOP, VBAR_BOTTOM = 720, 250, 48, 12, 16, 36


def _hour_chart(hours: list[dict]) -> str:
    """24 bars on a fixed 0-100% axis, so two reports' charts compare at a glance."""
    by_hour = {entry["hour"]: entry for entry in hours}
    plot_w = VBAR_WIDTH - VBAR_LEFT - VBAR_RIGHT
    plot_h = VBAR_HEIGHT - VBAR_TOP - VBAR_BOTTOM
    base = VBAR_TOP + plot_h
    slot = plot_w / 24
    parts = [_gridline(VBAR_LEFT, VBAR_WIDTH - VBAR_RIGHT, base - plot_h * tick / 100, f"{tick}%")
             for tick in (0, 25, 50, 75, 100)]
    for hour in range(24):
        entry = by_hour.get(hour, {})
        rate = entry.get("rate")
        # A hair of height keeps a measured 0% visible and tells it apart from an hour with no calls.
        height = 0.0 if rate is None else max(_scale(rate, 1.0, plot_h), 1.5)
        x = VBAR_LEFT + hour * slot + slot * 0.15
        tip = (f"{hour:02d}:00–{hour:02d}:59 local: {fmt_int(entry.get('dialed'))} dialed, "
               f"{fmt_int(entry.get('answered'))} answered ({fmt_pct(rate)})")
        parts.append(
            f'<rect x="{x:.2f}" y="{base - height:.2f}" width="{slot * 0.7:.2f}" height="{height:.2f}" rx="2" '
            f'fill="{PALETTE["hours"]}" {_bar_attrs("answer_rate_by_hour", hour, rate)}>'
            f'<title>{escape(tip)}</title></rect>'
            f'<text class="tick" x="{x + slot * 0.35:.2f}" y="{base + 16}" text-anchor="middle">{hour:02d}</text>')
    parts.append(f'<text class="axis" x="{VBAR_LEFT + plot_w / 2:.1f}" y="{VBAR_HEIGHT - 4}" '
                 'text-anchor="middle">local hour of the contact</text>')
    return _svg(VBAR_WIDTH, VBAR_HEIGHT, "Answer rate by local hour", "".join(parts))


def _attempts_chart(distribution: dict) -> str:
    """Columns scaled to the largest count, with each count printed above its column."""
    if not distribution:
        return '<p class="empty">No contacts yet.</p>'
    items = sorted(distribution.items(), key=lambda item: _attempts_order(item[0]))
    top = max((count or 0 for _, count in items), default=0)
    plot_w = VBAR_WIDTH - VBAR_LEFT - VBAR_RIGHT
    plot_h = VBAR_HEIGHT - VBAR_TOP - VBAR_BOTTOM - 10  # room for the count above the tallest bar
    base = VBAR_HEIGHT - VBAR_BOTTOM
    slot = plot_w / len(items)
    bar_w = min(slot * 0.6, 72)
    parts = [_gridline(VBAR_LEFT, VBAR_WIDTH - VBAR_RIGHT, base, "")]
    for i, (key, count) in enumerate(items):
        height = _scale(count, top, plot_h)
        center = VBAR_LEFT + slot * (i + 0.5)
        parts.append(
            f'<rect x="{center - bar_w / 2:.2f}" y="{base - height:.2f}" width="{bar_w:.2f}" '
            f'height="{height:.2f}" rx="2" fill="{PALETTE["attempts"]}" {_bar_attrs("attempts", key, count)}>'
            f'<title>{_text(key)} attempts: {fmt_int(count)} contacts</title></rect>'
            f'<text class="value" x="{center:.2f}" y="{base - height - 6:.2f}" text-anchor="middle">'
            f'{fmt_int(count)}</text>'
            f'<text class="tick" x="{center:.2f}" y="{base + 16}" text-anchor="middle">{_text(key)}</text>')
    parts.append(f'<text class="axis" x="{VBAR_LEFT + plot_w / 2:.1f}" y="{VBAR_HEIGHT - 4}" '
                 'text-anchor="middle">dial attempts per contact</text>')
    return _svg(VBAR_WIDTH, VBAR_HEIGHT, "Attempts per contact", "".join(parts))


def _attempts_order(key: str):
    # Keys are attempt counts as strings ("10" must follow "9"); anything else sorts after them.
    return (0, int(key), "") if str(key).isdigit() else (1, 0, str(key))


def _gridline(x1: float, x2: float, y: float, label: str) -> str:
    text = (f'<text class="tick" x="{x1 - 8}" y="{y:.2f}" text-anchor="end" '
            f'dominant-baseline="middle">{escape(label)}</text>') if label else ""
    return f'<line class="grid" x1="{x1}" x2="{x2}" y1="{y:.2f}" y2="{y:.2f}"/>{text}'


def _svg(width: int, height: int, title: str, content: str) -> str:
    # The wrapper scrolls sideways on a phone rather than shrinking the labels past reading.
    return (f'<div class="scroll"><svg class="chart" viewBox="0 0 {width} {height}" role="img" '
            f'aria-label="{escape(title)}" preserveAspectRatio="xMinYMin meet">'
            f'<title>{escape(title)}</title>{content}</svg></div>')


def _footer(report: dict) -> str:
    return (f'<footer>Generated {_text(report["generated_at"])} for run {_text(report["run_id"])}. '
            'Figures are counted in PostgreSQL when the report is generated; the per-contact CSV '
            'and the JSON report sit beside this page.</footer>')


CSS = """
:root{--ink:#0f172a;--muted:#64748b;--line:#e2e8f0;--soft:#f8fafc;--track:#f1f5f9}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--ink);
font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,"Noto Sans",sans-serif;
-webkit-text-size-adjust:100%}
.page{max-width:1120px;margin:0 auto;padding:32px 20px 48px}
.head{margin-bottom:24px}
.eyebrow{margin:0;color:var(--muted);font-size:12px;letter-spacing:.08em;text-transform:uppercase}
h1{margin:4px 0 8px;font-size:28px;line-height:1.2;font-weight:650;overflow-wrap:anywhere}
h2{margin:0 0 4px;font-size:18px;font-weight:600}
h3{margin:16px 0 8px;font-size:14px;font-weight:600;color:#334155}
.sub{display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin:0 0 16px;color:var(--muted)}
code{font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:var(--track);
padding:2px 6px;border-radius:4px;color:var(--ink)}
.badge{font-size:12px;font-weight:600;padding:2px 10px;border-radius:999px;border:1px solid;
text-transform:uppercase;letter-spacing:.04em}
.badge.good{color:#166534;background:#f0fdf4;border-color:#bbf7d0}
.badge.bad{color:#991b1b;background:#fef2f2;border-color:#fecaca}
.badge.warn{color:#92400e;background:#fffbeb;border-color:#fde68a}
.badge.muted,.badge.neutral{color:#475569;background:#f1f5f9;border-color:#cbd5e1}
.meta{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:8px 24px;margin:0;
padding:16px;background:#fff;border:1px solid var(--line);border-radius:10px}
.meta dt{font-size:12px;color:var(--muted)}
.meta dd{margin:0;font-size:13px;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.note{margin:12px 0 0;padding:10px 14px;border-left:3px solid #f59e0b;background:#fffbeb;font-size:14px}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:0 0 20px}
.kpi{background:#fff;border:1px solid var(--line);border-radius:10px;padding:14px 16px}
.kpi-label{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.05em}
.kpi-value{font-size:26px;font-weight:650;font-variant-numeric:tabular-nums;margin-top:2px}
.kpi-hint{font-size:12px;color:var(--muted)}
.card{background:#fff;border:1px solid var(--line);border-radius:10px;padding:20px;margin:0 0 20px}
.card.warn{border-color:#fde68a;background:#fffdf5}
.card .kpis{margin:12px 0 0}
.lede{margin:0 0 12px;color:var(--muted);font-size:14px}
.split{display:grid;grid-template-columns:repeat(auto-fit,minmax(300px,1fr));gap:24px;align-items:start}
table{width:100%;border-collapse:collapse;font-size:14px}
th,td{padding:7px 10px;border-bottom:1px solid var(--line);text-align:left}
th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.04em}
.num{text-align:right;font-variant-numeric:tabular-nums}
.empty{color:var(--muted);font-style:italic}
.totals{margin:0 0 8px;font-size:14px;color:var(--muted)}
.totals strong{color:var(--ink);font-variant-numeric:tabular-nums}
.phones{columns:3 180px;margin:0;padding-left:18px;font:13px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.scroll{overflow-x:auto}
.chart{display:block;width:100%;min-width:520px;height:auto}
.chart text{font-size:12px;fill:#475569}
.chart .label{fill:#334155}
.chart .value{fill:var(--ink);font-weight:600;font-variant-numeric:tabular-nums}
.chart .tick{font-size:11px;fill:#64748b}
.chart .axis{font-size:11px;fill:#94a3b8}
.chart .track{fill:var(--track)}
.chart .grid{stroke:var(--line);stroke-width:1}
.chart rect[data-series]:hover{opacity:.8}
footer{color:var(--muted);font-size:12px;margin-top:8px}
@media (max-width:560px){.page{padding:20px 12px}h1{font-size:22px}.kpi-value{font-size:22px}}
@media print{body{background:#fff}.card,.kpi,.meta{break-inside:avoid}}
"""
