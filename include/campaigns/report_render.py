"""A run report rendered for people: the per-contact CSV and one self-contained HTML page.

Pure functions over the dict that reporting.build_report produces: no database, no Airflow, so
they run the same on a worker, in a test or on a laptop. This module shapes the figures (formats
them, lays the charts out); include/templates/report.html.j2 writes the markup, with autoescape.

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
from typing import IO

from include.campaigns.outcomes import tone_of

CSV_COLUMNS = (
    "contact_id",
    "external_ref",
    "phone_masked",
    "status",
    "attempts",
    "last_outcome",
    "last_attempt_at",
    "status_reason",
)

DASH = "—"

FUNNEL_STEPS = (
    ("contacts", "Contacts"),
    ("eligible", "Eligible"),
    ("dispatched", "Dispatched"),
    ("dialed", "Dialed"),
    ("answered", "Answered"),
    ("converted", "Converted"),
)

BLOCK_LABELS = {
    "blacklist": "Blacklisted",
    "outside_window": "Outside calling window",
    "legal_hours": "Outside legal hours",
    "cap": "Frequency cap",
    "invalid_number": "Invalid number",
    "expired": "Expired, never reached",
    "no_consent": "No consent",
    "lockout": "Lockout after an outcome",
    "retry_later": "Retry delay",
    "blackout": "Declared blackout",
    "unresolved": "Not yet checked",
}

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
    if rendered.rows is None:
        raise RuntimeError(f"{type(rendered).__name__} did not count its rows while it was read")
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


def _data_value(value) -> str:
    # repr of a float is its shortest exact form, so a test can compare it with == after float().
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _label(key: str) -> str:
    return key.replace("_", " ").capitalize()


def render_html(report: dict) -> str:
    """The page, from include/templates/report.html.j2; this module only shapes the figures."""
    from include.templates import render

    return render(
        "report.html.j2",
        title=f"{report['campaign']['name']} · run report",
        header=_header(report),
        dry_run=_dry_run_section(report.get("dry_run")),
        kpis=_kpi_tiles(report),
        funnel=_funnel_chart(report["funnel"]),
        blocked=_blocked_section(report["blocked"], report.get("blocked_by_jurisdiction")),
        abandonment=_abandonment_section(report.get("abandonment")),
        hours=_hour_chart(report["answer_rate_by_local_hour"]),
        attempts=_attempts_chart(report["attempts_distribution"]),
        outcomes=_outcomes_section(report["calls"], report["contacts"]),
        quarantined=_quarantine_section(report.get("quarantined_results")),
        generated_at=report["generated_at"],
        run_id=report["run_id"],
    )


def _header(report: dict) -> dict:
    campaign, run = report["campaign"], report["run"]
    outcome = report["outcome"]
    meta = [
        ("Run", "run_id", report["run_id"]),
        ("Start", "start", run["start"]),
        ("End", "end", run["end"]),
        ("Duration", "duration", fmt_duration(run.get("duration_s"))),
        ("Generated", "generated_at", report["generated_at"]),
    ]
    if report.get("s3_uri"):
        meta.append(("Report location", "s3_uri", report["s3_uri"]))
    for name, uri in (report.get("files") or {}).items():
        meta.append((name, f"file:{name}", uri))
    return {
        "name": campaign["name"],
        "slug": campaign["slug"],
        "id": campaign["id"],
        "outcome": outcome,
        "tone": tone_of(outcome),
        "dry_run": bool(run.get("dry_run")),
        # A run whose interval was already over dials nobody: it only regenerates the report.
        "regenerated": not run.get("live", True),
        "meta": meta,
        "note": run.get("note") or None,
    }


def _dry_run_section(dry_run: dict | None) -> dict | None:
    if not dry_run:
        return None
    tiles = [_kpi_tile("would_dispatch", "Would dispatch", fmt_int(dry_run.get("would_dispatch")))]
    skipped = None
    if "skipped_by_reason" in dry_run:
        tiles += [
            _kpi_tile("eligible", "Eligible now", fmt_int(dry_run.get("eligible"))),
            _kpi_tile("skipped", "Skipped", fmt_int(dry_run.get("skipped"))),
        ]
        rows = [
            (reason, [BLOCK_LABELS.get(reason, _label(reason))], [("contacts", n, fmt_int(n))])
            for reason, n in dry_run["skipped_by_reason"].items()
        ]
        skipped = {
            "at": dry_run.get("at", ""),
            "by_reason": _table("skipped", ["Reason", "Contacts"], rows, empty="Nobody is skipped."),
            "by_jurisdiction": _by_jurisdiction_table(
                "skipped_by_jurisdiction", dry_run["skipped_by_jurisdiction"], empty="Nobody is skipped."
            ),
        }
    return {"tiles": tiles, "skipped": skipped, "sample": list(dry_run.get("sample") or [])}


def _kpi_tiles(report: dict) -> list[dict]:
    funnel, rates = report["funnel"], report["rates"]
    return [
        _kpi_tile("contacts", "Contacts", fmt_int(funnel["contacts"]), "in the campaign"),
        _kpi_tile("dispatched", "Dispatched", fmt_int(funnel["dispatched"]), "contacts sent to the dialer"),
        _kpi_tile("dialed", "Dialed", fmt_int(funnel["dialed"]), "contacts called"),
        _kpi_tile("answered", "Answered", fmt_int(funnel["answered"]), "contacts who picked up"),
        _kpi_tile("asr", "ASR", fmt_pct(rates["asr"]), "answered calls ÷ calls placed"),
        _kpi_tile("acd_s", "ACD", fmt_seconds(rates["acd_s"]), "average answered call"),
        _kpi_tile("conversion_rate", "Conversion", fmt_pct(rates["conversion_rate"]), "converted ÷ answered"),
        _kpi_tile("opt_outs", "Opt-outs", fmt_int(rates["opt_outs"]), "asked not to be called"),
    ]


def _kpi_tile(name: str, label: str, value: str, hint: str = "") -> dict:
    return {"name": name, "label": label, "value": value, "hint": hint}


def _funnel_chart(funnel: dict) -> dict | None:
    items = [(key, label, funnel.get(key)) for key, label in FUNNEL_STEPS]
    return _hbar_chart("funnel", items, color=PALETTE["funnel"], title="Campaign funnel")


def _blocked_section(blocked: dict, by_jurisdiction: dict | None = None) -> dict:
    items = [(key, BLOCK_LABELS.get(key, _label(key)), value) for key, value in blocked.items()]
    rows = [(key, [label], [("contacts", value, fmt_int(value))]) for key, label, value in items]
    return {
        "table": _table("blocked", ["Reason", "Contacts"], rows, empty="Nothing was blocked."),
        # Narrower drawing: it shares the row with the table, and its labels must stay legible there.
        "chart": _hbar_chart("blocked", items, color=PALETTE["blocked"], title="Contacts blocked by reason", width=500),
        "by_jurisdiction": None
        if by_jurisdiction is None
        else _by_jurisdiction_table("blocked_by_jurisdiction", by_jurisdiction, empty="Nothing is blocked now."),
    }


def _by_jurisdiction_table(name: str, by_jurisdiction: dict, *, empty: str) -> dict:
    """One row per jurisdiction, one column per reason it has contacts for."""
    reasons = sorted({reason for counts in by_jurisdiction.values() for reason in counts})
    headers = ["Jurisdiction", *(BLOCK_LABELS.get(r, _label(r)) for r in reasons), "Total"]
    rows = [
        (
            code,
            [code],
            [(r, counts.get(r, 0), fmt_int(counts.get(r, 0))) for r in reasons]
            + [("total", sum(counts.values()), fmt_int(sum(counts.values())))],
        )
        for code, counts in sorted(by_jurisdiction.items())
    ]
    return _table(name, headers, rows, empty=empty)


def _abandonment_section(measured: dict | None) -> dict | None:
    if not measured:
        return None
    state = "over the limit: no new dial tasks" if measured["exceeded"] else "within the limit"
    rows = [
        ("rate", ["Abandoned ÷ live answers"], [("value", measured["rate"], fmt_pct(measured["rate"]))]),
        (
            "limit",
            [f"Limit ({measured['window_days']} days)"],
            [("value", measured["limit"], fmt_pct(measured["limit"]))],
        ),
        ("abandoned", ["Abandoned calls"], [("value", measured["abandoned"], fmt_int(measured["abandoned"]))]),
        ("live_answers", ["Live answers"], [("value", measured["live_answers"], fmt_int(measured["live_answers"]))]),
    ]
    return {
        "lede": f"Rolling {measured['window_days']} days, {state}. Source: {measured['source']}.",
        "table": _table("abandonment", ["Measure", "Value"], rows, empty="No calls."),
    }


def _outcomes_section(calls: dict, contacts: dict) -> dict:
    # Busiest outcome first; the name breaks ties so the order is stable between runs.
    outcomes = sorted((calls.get("by_outcome") or {}).items(), key=lambda item: (-(item[1].get("calls") or 0), item[0]))
    outcome_rows = [
        (
            name,
            [_label(name)],
            [
                ("calls", entry.get("calls"), fmt_int(entry.get("calls"))),
                ("talk_s", entry.get("talk_s"), fmt_duration(entry.get("talk_s"))),
            ],
        )
        for name, entry in outcomes
    ]
    statuses = sorted((contacts.get("by_status") or {}).items(), key=lambda item: (-(item[1] or 0), item[0]))
    status_rows = [(name, [_label(name)], [("contacts", count, fmt_int(count))]) for name, count in statuses]
    return {
        "dialed": fmt_int(calls.get("dialed")),
        "answered": fmt_int(calls.get("answered")),
        "total": fmt_int(contacts.get("total")),
        "by_outcome": _table(
            "outcomes", ["Outcome", "Calls", "Talk time"], outcome_rows, empty="No calls were placed."
        ),
        "by_status": _table("status", ["Status", "Contacts"], status_rows, empty="No contacts."),
    }


def _quarantine_section(quarantined: dict | None) -> dict | None:
    if not quarantined:
        return None
    rows = [(reason, [_label(reason)], [("records", n, fmt_int(n))]) for reason, n in sorted(quarantined.items())]
    return _table("quarantined", ["Reason", "Records"], rows, empty="None.")


def _table(name: str, headers: list[str], rows: list, *, empty: str) -> dict:
    """rows: (key, text cells, numeric cells); numeric cells are (column, raw value, shown text)."""
    return {
        "name": name,
        "headers": headers,
        "empty": empty,
        "rows": [
            {
                "key": key,
                "texts": texts,
                "numbers": [{"col": col, "value": _data_value(raw), "shown": shown} for col, raw, shown in numbers],
            }
            for key, texts, numbers in rows
        ],
    }


def _bar(series: str, key, value, **geometry) -> dict:
    return {"series": series, "key": key, "value": _data_value(value), **geometry}


def _scale(value, top, length: float) -> float:
    # Guards: an all-zero chart (top 0) and a value above its axis both stay inside the plot.
    if not value or not top or value < 0:
        return 0.0
    return min(value / top, 1.0) * length


HBAR_LABEL, HBAR_VALUE_ROOM, HBAR_ROW, HBAR_THICK = 180, 110, 32, 18


def _hbar_chart(series: str, items: list, *, color: str, title: str, width: int = 720) -> dict | None:
    """Horizontal bars scaled to the largest value; the figure is printed at the end of each bar."""
    if not items:
        return None
    area = width - HBAR_LABEL - HBAR_VALUE_ROOM
    top = max((value or 0 for _, _, value in items), default=0)
    bars = []
    for i, (key, label, value) in enumerate(items):
        y = 4 + i * HBAR_ROW
        middle = y + HBAR_ROW / 2
        bar_y = y + (HBAR_ROW - HBAR_THICK) / 2
        length = _scale(value, top, area)
        bars.append(
            _bar(
                series,
                key,
                value,
                label=label,
                shown=fmt_int(value),
                middle=f"{middle:.1f}",
                bar_y=f"{bar_y:.1f}",
                length=f"{length:.2f}",
                value_x=f"{HBAR_LABEL + length + 8:.2f}",
            )
        )
    return {
        "width": width,
        "height": len(items) * HBAR_ROW + 8,
        "title": title,
        "color": color,
        "gridlines": [],
        "axis": None,
        "label_x": HBAR_LABEL,
        "label_end": HBAR_LABEL - 10,
        "area": area,
        "thick": HBAR_THICK,
        "bars": bars,
    }


VBAR_WIDTH, VBAR_HEIGHT, VBAR_LEFT, VBAR_RIGHT, VBAR_TOP, VBAR_BOTTOM = 720, 250, 48, 12, 16, 36


def _vbar_frame(title: str, axis: str, gridlines: list[dict], plot_w: float) -> dict:
    return {
        "width": VBAR_WIDTH,
        "height": VBAR_HEIGHT,
        "title": title,
        "gridlines": gridlines,
        "axis": axis,
        "axis_x": f"{VBAR_LEFT + plot_w / 2:.1f}",
        "axis_y": VBAR_HEIGHT - 4,
    }


def _gridline(x1: float, x2: float, y: float, label: str) -> dict:
    return {"x1": x1, "x2": x2, "y": f"{y:.2f}", "label": label, "label_x": x1 - 8}


def _hour_chart(hours: list[dict]) -> dict:
    """24 bars on a fixed 0-100% axis, so two reports' charts compare at a glance."""
    by_hour = {entry["hour"]: entry for entry in hours}
    plot_w = VBAR_WIDTH - VBAR_LEFT - VBAR_RIGHT
    plot_h = VBAR_HEIGHT - VBAR_TOP - VBAR_BOTTOM
    base = VBAR_TOP + plot_h
    slot = plot_w / 24
    grid = [
        _gridline(VBAR_LEFT, VBAR_WIDTH - VBAR_RIGHT, base - plot_h * tick / 100, f"{tick}%")
        for tick in (0, 25, 50, 75, 100)
    ]
    bars = []
    for hour in range(24):
        entry = by_hour.get(hour, {})
        rate = entry.get("rate")
        # A hair of height keeps a measured 0% visible and tells it apart from an hour with no calls.
        height = 0.0 if rate is None else max(_scale(rate, 1.0, plot_h), 1.5)
        x = VBAR_LEFT + hour * slot + slot * 0.15
        tip = (
            f"{hour:02d}:00–{hour:02d}:59 local: {fmt_int(entry.get('dialed'))} dialed, "
            f"{fmt_int(entry.get('answered'))} answered ({fmt_pct(rate)})"
        )
        bars.append(
            _bar(
                "answer_rate_by_hour",
                hour,
                rate,
                x=f"{x:.2f}",
                y=f"{base - height:.2f}",
                width=f"{slot * 0.7:.2f}",
                height=f"{height:.2f}",
                tip=tip,
                tick_x=f"{x + slot * 0.35:.2f}",
                tick=f"{hour:02d}",
            )
        )
    return {
        **_vbar_frame("Answer rate by local hour", "local hour of the contact", grid, plot_w),
        "color": PALETTE["hours"],
        "tick_y": base + 16,
        "bars": bars,
    }


def _attempts_chart(distribution: dict) -> dict | None:
    """Columns scaled to the largest count, with each count printed above its column."""
    if not distribution:
        return None
    items = sorted(distribution.items(), key=lambda item: _attempts_order(item[0]))
    top = max((count or 0 for _, count in items), default=0)
    plot_w = VBAR_WIDTH - VBAR_LEFT - VBAR_RIGHT
    plot_h = VBAR_HEIGHT - VBAR_TOP - VBAR_BOTTOM - 10  # room for the count above the tallest bar
    base = VBAR_HEIGHT - VBAR_BOTTOM
    slot = plot_w / len(items)
    bar_w = min(slot * 0.6, 72)
    bars = []
    for i, (key, count) in enumerate(items):
        height = _scale(count, top, plot_h)
        center = VBAR_LEFT + slot * (i + 0.5)
        bars.append(
            _bar(
                "attempts",
                key,
                count,
                x=f"{center - bar_w / 2:.2f}",
                y=f"{base - height:.2f}",
                width=f"{bar_w:.2f}",
                height=f"{height:.2f}",
                shown=fmt_int(count),
                center=f"{center:.2f}",
                value_y=f"{base - height - 6:.2f}",
            )
        )
    return {
        **_vbar_frame(
            "Attempts per contact",
            "dial attempts per contact",
            [_gridline(VBAR_LEFT, VBAR_WIDTH - VBAR_RIGHT, base, "")],
            plot_w,
        ),
        "color": PALETTE["attempts"],
        "tick_y": base + 16,
        "bars": bars,
    }


def _attempts_order(key: str):
    # Keys are attempt counts as strings ("10" must follow "9"); anything else sorts after them.
    return (0, int(key), "") if str(key).isdigit() else (1, 0, str(key))
