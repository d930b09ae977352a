"""The rendered report read back: every figure on the HTML page, and every CSV cell, equals the report.

The page is parsed with the stdlib HTML parser and its figures are read from the data-kpi,
data-series, data-table and data-meta attributes the renderer puts on them; the expected text is
written here from the rules ("0.4 reads 40.0%", "None reads —"), not taken from the renderer.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from include.campaigns.report_render import CSV_COLUMNS, RenderedCsv, render_csv, render_csv_to, render_html

DASH = "—"
FUNNEL_KEYS = ["contacts", "eligible", "dispatched", "dialed", "answered", "converted"]
BLOCK_KEYS = ["blacklist", "outside_window", "legal_hours", "cap", "invalid_number", "expired"]
HORIZONTAL = {"funnel", "blocked"}  # the other charts are columns: their size is the height


def pct(rate):
    return DASH if rate is None else "%.1f%%" % (rate * 100)


def count(n):
    return DASH if n is None else f"{n:,}"


def seconds(s):
    return DASH if s is None else f"{s:,.1f} s"


def duration(s):
    if s is None:
        return DASH
    total = int(round(s))
    h, m, sec = total // 3600, total % 3600 // 60, total % 60
    if h:
        return f"{h:,} h {m:02d} min"
    return f"{m} min {sec:02d} s" if m else f"{sec} s"


def realistic_report() -> dict:
    """A finished 2,400-contact day across US time zones, shaped like reporting.build_report's output."""
    # Answered share by local hour: nobody is called before 08:00 or after 21:00.
    hourly = {
        8: (96, 31),
        9: (188, 71),
        10: (231, 97),
        11: (240, 104),
        12: (210, 79),
        13: (198, 83),
        14: (187, 82),
        15: (176, 73),
        16: (169, 70),
        17: (181, 85),
        18: (142, 60),
        19: (49, 20),
        20: (21, 6),
    }
    hours = [
        {
            "hour": h,
            "dialed": hourly.get(h, (0, 0))[0],
            "answered": hourly.get(h, (0, 0))[1],
            "rate": round(hourly[h][1] / hourly[h][0], 4) if h in hourly else None,
        }
        for h in range(24)
    ]
    return {
        "campaign": {"id": 12, "slug": "renewals-q4", "name": "Policy renewals — Q4 reminder"},
        "run_id": "scheduled__2026-11-28T14:00:00+00:00",
        "outcome": "completed",
        "generated_at": "2026-11-28T22:00:04.512391+00:00",
        "s3_uri": "s3://campaign-reports/reports/renewals-q4/scheduled__2026-11-28T14_00_00_00_00/report.html",
        "run": {
            "start": "2026-11-28T14:00:00+00:00",
            "end": "2026-11-28T22:00:00+00:00",
            "duration_s": 28804.5,
            "live": True,
            "dry_run": False,
            "note": None,
        },
        "funnel": {
            "contacts": 2400,
            "eligible": 2310,
            "dispatched": 2152,
            "dialed": 2088,
            "answered": 861,
            "converted": 161,
        },
        "blocked": {
            "blacklist": 40,
            "outside_window": 96,
            "legal_hours": 58,
            "cap": 7,
            "invalid_number": 4,
            "expired": 212,
        },
        "rates": {"asr": 0.4124, "acd_s": 48.3, "conversion_rate": 0.187, "opt_outs": 12},
        "attempts_distribution": {"0": 248, "1": 1310, "2": 602, "3": 240},
        "answer_rate_by_local_hour": hours,
        "calls": {
            "dialed": 2088,
            "answered": 861,
            "by_outcome": {
                "answered": {"calls": 688, "talk_s": 33810},
                "converted": {"calls": 161, "talk_s": 8412},
                "opted_out": {"calls": 12, "talk_s": 96},
                "voicemail": {"calls": 402, "talk_s": 0},
                "busy": {"calls": 211, "talk_s": 0},
                "no_answer": {"calls": 559, "talk_s": 0},
                "failed": {"calls": 55, "talk_s": 0},
            },
        },
        "contacts": {
            "total": 2400,
            "by_status": {
                "completed": 849,
                "failed": 631,
                "pending": 248,
                "expired": 212,
                "blacklisted": 52,
                "invalid": 4,
                "exhausted": 404,
            },
        },
    }


def empty_report() -> dict:
    """A run that dialed nobody: zeros everywhere, rates undefined, no outcomes, no attempts yet."""
    return {
        "campaign": {"id": 3, "slug": "empty", "name": "Nobody to call"},
        "run_id": "manual__2026-01-02T00:00:00+00:00",
        "outcome": "completed",
        "generated_at": "2026-01-02T00:00:01+00:00",
        "run": {
            "start": "2026-01-02T00:00:00+00:00",
            "end": "2026-01-02T00:00:01+00:00",
            "duration_s": None,
            "live": False,
            "dry_run": False,
            "note": "the run's interval is over: report only",
        },
        "funnel": dict.fromkeys(FUNNEL_KEYS, 0),
        "blocked": dict.fromkeys(BLOCK_KEYS, 0),
        "rates": {"asr": None, "acd_s": None, "conversion_rate": None, "opt_outs": 0},
        "attempts_distribution": {},
        "answer_rate_by_local_hour": [{"hour": h, "dialed": 0, "answered": 0, "rate": None} for h in range(24)],
        "calls": {"dialed": 0, "answered": 0, "by_outcome": {}},
        "contacts": {"total": 0, "by_status": {}},
    }


class PageFigures(HTMLParser):
    """Collects the tagged figures of a page, with the text each tagged element shows."""

    CAPTURE = ("data-kpi", "data-series", "data-table", "data-meta")

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.kpis: dict[str, str] = {}
        self.bars: dict[str, list[dict]] = defaultdict(list)
        self.cells: dict[tuple, tuple] = {}
        self.meta: dict[str, list[str]] = defaultdict(list)
        self.elements: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self._open: list[dict] = []
        self._in_style = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs))
        self._in_style = tag == "style"
        for capture in self._open:
            if capture["tag"] == tag:
                capture["depth"] += 1
        if any(name in attrs for name in self.CAPTURE):
            self._open.append({"tag": tag, "depth": 0, "attrs": attrs, "text": []})

    def handle_endtag(self, tag):
        self._in_style = False
        for capture in list(self._open):
            if capture["tag"] != tag:
                continue
            if capture["depth"]:
                capture["depth"] -= 1
            else:
                self._open.remove(capture)
                self._close(capture["attrs"], "".join(capture["text"]))

    def handle_data(self, data):
        if not self._in_style:
            self.text.append(data)
        for capture in self._open:
            capture["text"].append(data)

    def _close(self, attrs, text):
        if "data-kpi" in attrs:
            assert attrs["data-kpi"] not in self.kpis, f"KPI {attrs['data-kpi']} shown twice"
            self.kpis[attrs["data-kpi"]] = text
        if "data-series" in attrs:
            self.bars[attrs["data-series"]].append({**attrs, "title": text})
        if "data-table" in attrs:
            key = (attrs["data-table"], attrs["data-key"], attrs["data-col"])
            assert key not in self.cells, f"table cell {key} shown twice"
            self.cells[key] = (attrs["data-value"], text)
        if "data-meta" in attrs:
            self.meta[attrs["data-meta"]].append(text)


def parse(page: str) -> PageFigures:
    figures = PageFigures()
    figures.feed(page)
    figures.close()
    assert not figures._open, "an element with figures was never closed"
    return figures


def as_number(raw: str):
    if raw == "":
        return None
    return float(raw) if any(c in raw for c in ".eEn") else int(raw)


def assert_figures_match(report: dict, figures: PageFigures) -> None:
    """Every tagged figure on the page equals the report's, and is shown as the rules say."""
    funnel, rates = report["funnel"], report["rates"]
    assert figures.kpis == {
        "contacts": count(funnel["contacts"]),
        "dispatched": count(funnel["dispatched"]),
        "dialed": count(funnel["dialed"]),
        "answered": count(funnel["answered"]),
        "asr": pct(rates["asr"]),
        "acd_s": seconds(rates["acd_s"]),
        "conversion_rate": pct(rates["conversion_rate"]),
        "opt_outs": count(rates["opt_outs"]),
        "calls_dialed": count(report["calls"]["dialed"]),
        "calls_answered": count(report["calls"]["answered"]),
        "contacts_total": count(report["contacts"]["total"]),
        **({"would_dispatch": count(report["dry_run"]["would_dispatch"])} if report.get("dry_run") else {}),
    }

    funnel_bars = figures.bars["funnel"]
    assert [b["data-key"] for b in funnel_bars] == FUNNEL_KEYS
    assert [as_number(b["data-value"]) for b in funnel_bars] == [funnel[k] for k in FUNNEL_KEYS]

    blocked_bars = {b["data-key"]: as_number(b["data-value"]) for b in figures.bars["blocked"]}
    assert blocked_bars == report["blocked"]
    assert len(figures.bars["blocked"]) == len(report["blocked"])
    for key, value in report["blocked"].items():
        assert figures.cells[("blocked", key, "contacts")] == (str(value), count(value))

    hour_bars = figures.bars["answer_rate_by_hour"]
    assert [b["data-key"] for b in hour_bars] == [str(h) for h in range(24)]
    for bar, entry in zip(hour_bars, sorted(report["answer_rate_by_local_hour"], key=lambda e: e["hour"])):
        assert as_number(bar["data-value"]) == entry["rate"]
        assert f"{count(entry['dialed'])} dialed" in bar["title"]
        assert f"{count(entry['answered'])} answered ({pct(entry['rate'])})" in bar["title"]

    attempts = report["attempts_distribution"]
    attempt_bars = figures.bars["attempts"]
    assert [b["data-key"] for b in attempt_bars] == sorted(attempts, key=int)
    assert {b["data-key"]: as_number(b["data-value"]) for b in attempt_bars} == attempts

    outcomes = report["calls"]["by_outcome"]
    for name, entry in outcomes.items():
        assert figures.cells[("outcomes", name, "calls")] == (str(entry["calls"]), count(entry["calls"]))
        assert figures.cells[("outcomes", name, "talk_s")] == (str(entry["talk_s"]), duration(entry["talk_s"]))
    for status, n in report["contacts"]["by_status"].items():
        assert figures.cells[("status", status, "contacts")] == (str(n), count(n))
    assert len(figures.cells) == len(report["blocked"]) + 2 * len(outcomes) + len(report["contacts"]["by_status"])

    run = report["run"]
    expected_meta = {
        "name": [report["campaign"]["name"]],
        "slug": [report["campaign"]["slug"]],
        "campaign_id": [str(report["campaign"]["id"])],
        "outcome": [report["outcome"]],
        "run_id": [report["run_id"]],
        "start": [run["start"]],
        "end": [run["end"]],
        "duration": [duration(run["duration_s"])],
        "generated_at": [report["generated_at"]],
    }
    if report.get("s3_uri"):
        expected_meta["s3_uri"] = [report["s3_uri"]]
    if run.get("note"):
        expected_meta["note"] = [run["note"]]
    if report.get("dry_run") and report["dry_run"]["sample"]:
        expected_meta["sample"] = list(report["dry_run"]["sample"])
    assert dict(figures.meta) == expected_meta


def assert_bar_sizes_follow_values(figures: PageFigures) -> None:
    """A larger figure never draws a smaller bar, and a zero or missing one draws nothing."""
    for series, bars in figures.bars.items():
        size_attr = "width" if series in HORIZONTAL else "height"
        drawn = [(as_number(b["data-value"]), float(b[size_attr])) for b in bars]
        for value, size in drawn:
            if value is None or (value == 0 and series in HORIZONTAL | {"attempts"}):
                assert size == 0, (series, value, size)
        measured = sorted((v, s) for v, s in drawn if v is not None)
        for (_, smaller), (_, larger) in zip(measured, measured[1:]):
            assert smaller <= larger, series
        if series != "answer_rate_by_hour" and measured and measured[-1][0]:
            # Count charts scale to their largest figure: every bar is its share of the longest one.
            top_value, top_size = measured[-1]
            for value, size in measured:
                assert size == pytest.approx(value / top_value * top_size, abs=0.02), (series, value)


def assert_self_contained(figures: PageFigures) -> None:
    """Nothing to fetch and nothing to run: the page works from a mail attachment, offline."""
    tags = {tag for tag, _ in figures.elements}
    assert not tags & {
        "script",
        "link",
        "img",
        "iframe",
        "object",
        "embed",
        "image",
        "use",
        "a",
        "base",
        "foreignobject",
    }
    for tag, attrs in figures.elements:
        for name in attrs:
            assert name not in {"src", "href", "xlink:href", "srcset", "action", "style"}, (tag, name)
            assert not name.startswith("on"), (tag, name)


def assert_reads_back(report: dict, figures: PageFigures) -> None:
    """The page shows the report's figures, its bars are sized by them, and it needs nothing else."""
    assert_figures_match(report, figures)
    assert_bar_sizes_follow_values(figures)
    assert_self_contained(figures)


def test_realistic_report_reads_back():
    report = realistic_report()
    page = render_html(report)
    figures = parse(page)

    assert_reads_back(report, figures)
    # The figures as a reader sees them, spelled out once.
    assert figures.kpis["asr"] == "41.2%"
    assert figures.kpis["conversion_rate"] == "18.7%"
    assert figures.kpis["acd_s"] == "48.3 s"
    assert figures.kpis["contacts"] == "2,400"
    assert figures.meta["duration"] == ["8 h 00 min"]
    assert figures.cells[("outcomes", "answered", "talk_s")] == ("33810", "9 h 23 min")
    hour_14 = figures.bars["answer_rate_by_hour"][14]
    assert hour_14["data-value"] == "0.4385" and "187 dialed, 82 answered (43.9%)" in hour_14["title"]


def test_page_is_one_offline_file():
    page = render_html(realistic_report())
    assert "http" not in page.replace(realistic_report()["s3_uri"], "")
    assert not re.search(r"\b(src|href)\s*=", page, re.I)
    assert not re.search(r"<\s*(script|link|img|iframe)\b", page, re.I)
    assert "@import" not in page and "url(" not in page and "@font-face" not in page
    assert page.count("<html") == 1 and page.count("<svg") == 4


def test_only_report_figures_are_printed():
    """Every number a reader sees is a figure of the report, an hour, or an axis tick: nothing is derived."""
    report = realistic_report()
    figures = parse(render_html(report))
    # Hour labels, the answer-rate axis ticks, and the "59" that closes a tooltip's hour ("14:00–14:59").
    allowed = {f"{h:02d}" for h in range(24)} | {"0", "25", "50", "75", "100", "59"}

    def tokens(text):
        return set(re.findall(r"(?<![\w.])\d[\d,]*(?:\.\d+)?", text))

    def walk(value):
        if isinstance(value, dict):
            for key, item in value.items():
                yield from walk(key)
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)
        elif isinstance(value, bool) or value is None:
            return
        elif isinstance(value, int):
            yield count(value)
            yield duration(value)
        elif isinstance(value, float):
            yield pct(value)
            yield seconds(value)
            yield duration(value)
        else:
            yield str(value)

    for shown in walk(report):
        allowed |= tokens(shown)
    printed = tokens(" ".join(figures.text))
    assert printed - allowed == set()


def test_all_zero_report_renders_dashes_and_empty_bars():
    report = empty_report()
    page = render_html(report)
    figures = parse(page)

    assert_reads_back(report, figures)
    assert figures.kpis["asr"] == DASH and figures.kpis["acd_s"] == DASH
    assert figures.kpis["conversion_rate"] == DASH
    assert len(figures.bars["answer_rate_by_hour"]) == 24
    assert all(b["data-value"] == "" and float(b["height"]) == 0 for b in figures.bars["answer_rate_by_hour"])
    assert figures.bars["attempts"] == []
    assert "No calls were placed." in page
    assert "Report regenerated" in page
    assert figures.meta["duration"] == [DASH]


def test_measured_zero_rate_is_visible_and_differs_from_no_calls():
    report = realistic_report()
    report["answer_rate_by_local_hour"][9] = {"hour": 9, "dialed": 40, "answered": 0, "rate": 0.0}
    bars = parse(render_html(report)).bars["answer_rate_by_hour"]
    assert bars[9]["data-value"] == "0.0" and float(bars[9]["height"]) > 0
    assert bars[3]["data-value"] == "" and float(bars[3]["height"]) == 0


def test_dry_run_section_shows_what_would_be_sent():
    report = realistic_report()
    report["run"]["dry_run"] = True
    report["dry_run"] = {"would_dispatch": 1875, "sample": ["+1212***0123", "+1305***7788"]}
    figures = parse(render_html(report))
    assert_figures_match(report, figures)
    assert figures.kpis["would_dispatch"] == "1,875"


def test_markup_in_report_strings_is_shown_as_text():
    report = realistic_report()
    report["campaign"]["name"] = '<script>alert("x")</script> & <b>Co</b>'
    report["campaign"]["slug"] = 'a"><img src=x onerror=alert(1)>'
    report["outcome"] = "<i>odd</i>"
    report["run"]["note"] = "</title><script>1</script>"
    report["calls"]["by_outcome"]['"><svg onload=alert(1)>'] = {"calls": 3, "talk_s": 9}
    report["contacts"]["by_status"]["<u>x</u>"] = 1
    page = render_html(report)
    figures = parse(page)

    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;Co&lt;/b&gt;" in page
    assert_figures_match(report, figures)
    assert_self_contained(figures)


HOSTILE = "<script>alert('x')</script>\"><img src=x onerror=alert(1)> & 'single' \"double\""


def test_hostile_text_in_a_campaign_name_a_contact_field_or_a_reason_stays_text():
    report = realistic_report()
    report["campaign"]["name"] = report["campaign"]["slug"] = HOSTILE
    report["run"]["dry_run"] = True
    report["run"]["note"] = HOSTILE
    report["dry_run"] = {
        "would_dispatch": 1,
        "eligible": 1,
        "skipped": 2,
        "at": HOSTILE,
        "sample": [HOSTILE],  # a contact's (masked) number
        "skipped_by_reason": {HOSTILE: 2},  # a reason
        "skipped_by_jurisdiction": {HOSTILE: {HOSTILE: 2}},
    }  # a contact's region
    report["blocked"][HOSTILE] = 4
    report["blocked_by_jurisdiction"] = {HOSTILE: {HOSTILE: 4}}
    report["abandonment"] = {
        "rate": 0.5,
        "limit": 0.03,
        "window_days": 30,
        "abandoned": 1,
        "live_answers": 2,
        "exceeded": True,
        "source": HOSTILE,
    }
    report["quarantined_results"] = {HOSTILE: 1}
    report["files"] = {HOSTILE: HOSTILE}
    page = render_html(report)
    figures = parse(page)

    assert "<script" not in page and "<img" not in page and "'single'" not in page and '"double"' not in page
    assert_self_contained(figures)
    assert figures.meta["name"] == figures.meta["slug"] == figures.meta["note"] == [HOSTILE]
    assert figures.meta["sample"] == [HOSTILE] and figures.meta[f"file:{HOSTILE}"] == [HOSTILE]
    assert figures.cells[("skipped", HOSTILE, "contacts")] == ("2", "2")
    assert figures.cells[("skipped_by_jurisdiction", HOSTILE, HOSTILE)] == ("2", "2")
    assert figures.cells[("blocked_by_jurisdiction", HOSTILE, "total")] == ("4", "4")
    assert figures.cells[("quarantined", HOSTILE, "records")] == ("1", "1")
    assert {b["data-key"]: b["data-value"] for b in figures.bars["blocked"]}[HOSTILE] == "4"
    assert f"Source: {HOSTILE}." in "".join(figures.text)


def test_csv_round_trips():
    at = datetime(2026, 11, 28, 15, 4, 5, 123456, tzinfo=timezone(timedelta(hours=-5)))
    rows = [
        {
            "contact_id": 1,
            "external_ref": "CRM-1",
            "phone_masked": "+1212***0123",
            "status": "completed",
            "attempts": 1,
            "last_outcome": "answered",
            "last_attempt_at": at,
            "status_reason": None,
        },
        {
            "contact_id": 2,
            "external_ref": 'ref, with "quotes"\nand a newline',
            "phone_masked": "+4420***9876",
            "status": "invalid",
            "attempts": 0,
            "last_outcome": None,
            "last_attempt_at": None,
            "status_reason": "not a valid number: too short; ünïcode ✓",
        },
        {
            "contact_id": 3,
            "external_ref": None,
            "phone_masked": "+1305***7788",
            "status": "failed",
            "attempts": 3,
            "last_outcome": "no_answer",
            "last_attempt_at": datetime(2026, 11, 28, 20, 59),
            "status_reason": "",
            "extra_column": "ignored",
        },
    ]
    text = render_csv(rows)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    assert reader.fieldnames == list(CSV_COLUMNS)
    back = list(reader)
    assert back == [{column: expected_cell(row.get(column)) for column in CSV_COLUMNS} for row in rows]
    assert datetime.fromisoformat(back[0]["last_attempt_at"]) == at


def test_csv_streams_to_a_file(tmp_path):
    path = tmp_path / "contacts.csv"
    rows = ({"contact_id": i, "status": "pending", "attempts": 0} for i in range(2500))
    with open(path, "w", newline="") as handle:
        assert render_csv_to(handle, rows) == 2500
    with open(path, newline="") as handle:
        back = list(csv.DictReader(handle))
    assert len(back) == 2500 and back[-1]["contact_id"] == "2499" and back[-1]["last_attempt_at"] == ""


def test_csv_of_no_contacts_is_its_header():
    assert render_csv([]) == ",".join(CSV_COLUMNS) + "\r\n"


class Chunks(RenderedCsv):
    def __init__(self, chunks: list[bytes], rows: int):
        self._chunks, self._rows = chunks, rows

    def __iter__(self):
        yield from self._chunks
        self.rows = self._rows


def test_a_csv_rendered_elsewhere_is_written_as_it_came():
    """PostgreSQL's COPY renders a large campaign's CSV; a chunk may end inside a character."""
    text = render_csv([{"contact_id": 1, "status": "invalid", "status_reason": "ünïcode ✓ 日本"}])
    data = text.encode()
    cut = data.index("✓".encode()) + 1
    buffer = io.StringIO(newline="")
    assert render_csv_to(buffer, Chunks([data[:cut], data[cut:]], rows=1)) == 1
    assert buffer.getvalue() == text


def expected_cell(value) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, datetime) else str(value)


counts = st.integers(min_value=0, max_value=10**9)
rates = st.none() | st.floats(min_value=0, max_value=1)
names = st.text(max_size=40)
keys = st.text(min_size=1, max_size=16)


@st.composite
def reports(draw) -> dict:
    hours = [{"hour": h, "dialed": draw(counts), "answered": draw(counts), "rate": draw(rates)} for h in range(24)]
    report = {
        "campaign": {"id": draw(st.integers(1, 10**6)), "slug": draw(names), "name": draw(names)},
        "run_id": draw(names),
        "outcome": draw(st.sampled_from(["completed", "cancelled", "failed"]) | names),
        "generated_at": draw(names),
        "run": {
            "start": draw(names),
            "end": draw(names),
            "duration_s": draw(st.none() | st.floats(min_value=0, max_value=10**7)),
            "live": draw(st.booleans()),
            "dry_run": draw(st.booleans()),
            "note": draw(st.none() | names),
        },
        "funnel": {k: draw(counts) for k in FUNNEL_KEYS},
        "blocked": {k: draw(counts) for k in BLOCK_KEYS},
        "rates": {
            "asr": draw(rates),
            "acd_s": draw(st.none() | st.floats(min_value=0, max_value=10**5)),
            "conversion_rate": draw(rates),
            "opt_outs": draw(counts),
        },
        "attempts_distribution": draw(st.dictionaries(st.integers(0, 40).map(str), counts, max_size=12)),
        "answer_rate_by_local_hour": draw(st.permutations(hours)),
        "calls": {
            "dialed": draw(counts),
            "answered": draw(counts),
            "by_outcome": draw(
                st.dictionaries(keys, st.fixed_dictionaries({"calls": counts, "talk_s": counts}), max_size=8)
            ),
        },
        "contacts": {"total": draw(counts), "by_status": draw(st.dictionaries(keys, counts, max_size=8))},
    }
    if draw(st.booleans()):
        report["s3_uri"] = draw(st.none() | names)
    if draw(st.booleans()):
        report["dry_run"] = {"would_dispatch": draw(counts), "sample": draw(st.lists(names, max_size=5))}
    return report


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(reports())
def test_any_report_reads_back(report):
    figures = parse(render_html(report))
    assert_reads_back(report, figures)


csv_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), max_size=30)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "contact_id": st.integers(1, 10**12),
                "external_ref": st.none() | csv_text,
                "phone_masked": csv_text,
                "status": csv_text,
                "attempts": st.integers(0, 50),
                "last_outcome": st.none() | csv_text,
                "last_attempt_at": st.none() | st.datetimes(timezones=st.just(timezone.utc)),
                "status_reason": st.none() | csv_text,
            }
        ),
        max_size=10,
    )
)
def test_any_rows_round_trip_through_csv(rows):
    back = list(csv.DictReader(io.StringIO(render_csv(rows), newline="")))
    assert back == [{column: expected_cell(row[column]) for column in CSV_COLUMNS} for row in rows]


@pytest.mark.parametrize(
    "rate, shown",
    [(0.4, "40.0%"), (0.0, "0.0%"), (1.0, "100.0%"), (0.00049, "0.0%"), (0.99951, "100.0%"), (None, DASH)],
)
def test_rates_read_as_percentages(rate, shown):
    report = realistic_report()
    report["rates"]["asr"] = rate
    assert parse(render_html(report)).kpis["asr"] == shown
