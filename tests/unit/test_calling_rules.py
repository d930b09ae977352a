"""The calling rules data: every entry's shape and source, the coverage the product promises, the
strict loader's refusals, and the generated compliance page."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import holidays
import pytest

from include.campaigns import calling_window as cw
from include.campaigns.compliance_doc import DOC_PATH, render
from include.campaigns.rules import DAYS, ENTRIES, RULES_DIR, RulesError, load_rules

US_PLACES = sorted(set(holidays.US.subdivisions) - {"UM"})  # 50 states, DC, PR, GU, VI, AS, MP


def test_every_rule_has_its_shape_dates_kind_and_a_source_with_a_link():
    assert ENTRIES, "the rules files load"
    for entry in ENTRIES:
        where = f"{entry.jurisdiction} ({entry.source.citation})"
        assert entry.kind in ("statute", "conservative"), where
        assert re.match(r"^https?://\S+$", entry.source.url), where
        assert len(entry.summary) > 10, where
        assert set(entry.hours) <= set(DAYS), where
        for span in entry.hours.values():
            assert span is None or span.start < span.end, where
        assert entry.until is None or entry.effective_from is None or entry.effective_from < entry.until, where
        assert entry.verified or entry.note, f"{where}: an unverified rule says what it does instead"
        if entry.holiday_ban:
            country, _, subdiv = entry.holiday_calendar.partition("-")
            assert holidays.country_holidays(country, subdiv=subdiv or None, years=2026), where
        if entry.cap is not None:
            assert (entry.cap.per, entry.cap.window) == ("number", "rolling_24h"), where


def test_every_us_state_dc_the_territories_canada_and_the_uk_have_a_sourced_rule():
    codes = {e.jurisdiction for e in ENTRIES}
    assert "US" in codes and "*" in codes
    missing = [p for p in US_PLACES if f"US-{p}" not in codes]
    assert not missing, f"no rule, not even a sourced 'no rule found', for {missing}"
    assert {"CA", "GB"} <= codes
    assert len(US_PLACES) == 56


def test_a_verified_rule_cites_the_law_itself_not_a_summary_or_a_neighbour():
    for entry in ENTRIES:
        if entry.verified and entry.jurisdiction != "*":
            citation = entry.source.citation
            assert "as summarised" not in citation and "neighbouring" not in citation, citation
            assert entry.kind == "statute", citation


def test_a_state_whose_hours_law_was_read_keeps_no_guess_from_its_neighbours():
    # Once a state's own calling-hours provision is read, the neighbours' strictest hours are dropped.
    guessed = {e.jurisdiction for e in ENTRIES if "neighbouring states" in e.source.citation}
    read = {"US-NY", "US-VA", "US-TN", "US-MO", "US-NJ", "US-WI"}
    assert not guessed & read, sorted(guessed & read)
    for code in read:
        assert any(e.verified and e.kind == "statute" and e.hours for e in ENTRIES if e.jurisdiction == code), code


def test_every_jurisdiction_in_the_data_is_open_some_time_every_week():
    for code in {e.jurisdiction for e in ENTRIES}:
        week = [cw.legal_rule(code, date(2026, 6, 8 + d)).hours_on(d) for d in range(7)]
        assert any(week), f"{code} could never be called"


def _write(directory: Path, country: str, entries: list[dict], extra: dict | None = None) -> None:
    world = {
        "country": "*",
        "title": "floor",
        "entries": [
            {
                "jurisdiction": "*",
                "effective_from": None,
                "kind": "conservative",
                "summary": "the floor",
                "hours": {d: {"start": "08:00", "end": "21:00"} for d in DAYS},
                "source": {"citation": "policy", "url": "https://example.org/floor"},
                "verified": True,
            }
        ],
    }
    (directory / "world.json").write_text(json.dumps(world))
    (directory / f"{country.lower()}.json").write_text(
        json.dumps({"country": country, "title": "test", "entries": entries, **(extra or {})})
    )


def _entry(**overrides) -> dict:
    entry = {
        "jurisdiction": "US-TX",
        "effective_from": "2025-09-01",
        "kind": "statute",
        "summary": "a rule",
        "hours": {"sun": {"start": "12:00", "end": "21:00"}},
        "source": {"citation": "Tex. Bus. & Com. Code § 301.051", "url": "https://example.org/301.051"},
        "verified": True,
    }
    entry.update(overrides)
    return entry


def test_a_well_formed_rules_file_loads(tmp_path):
    _write(tmp_path, "US", [_entry()])
    assert [e.jurisdiction for e in load_rules(tmp_path)] == ["US-TX", "*"]


@pytest.mark.parametrize(
    "bad, named",
    [
        ({"sunday_hours": "12:00"}, "sunday_hours"),  # unknown key
        ({"jurisdiction": "Texas"}, "Texas"),  # malformed code
        ({"jurisdiction": "us-tx"}, "us-tx"),
        ({"hours": {"sun": {"start": "12:00", "end": "24:00"}}}, "24:00"),  # malformed time
        ({"hours": {"sun": {"start": "9:00", "end": "21:00"}}}, "9:00"),
        ({"hours": {"sun": {"start": "21:00", "end": "12:00"}}}, "not after start"),
        ({"hours": {"sunday": {"start": "12:00", "end": "21:00"}}}, "sunday"),  # unknown day
        ({"effective_from": "2025-13-01"}, "effective_from"),  # malformed date
        ({"effective_from": "2025-09-01", "until": "2025-01-01"}, "until"),
        ({"kind": "guess"}, "kind"),
        ({"holiday_ban": True}, "holiday_calendar"),
        ({"verified": False}, "note"),
        ({"source": {"citation": "x", "url": "nowhere"}}, "url"),
        ({"cap": {"attempts": 3, "per": "campaign", "window": "rolling_24h", "counts": "calls"}}, "per"),
        ({"jurisdiction": "CA-ON"}, "not in US"),
    ],
)
def test_the_loader_refuses_a_malformed_rule_naming_the_file_and_the_problem(tmp_path, bad, named):
    _write(tmp_path, "US", [_entry(**bad)])
    with pytest.raises(RulesError, match=r"us\.json") as raised:
        load_rules(tmp_path)
    assert named in str(raised.value)


def test_the_loader_refuses_two_versions_of_one_law_in_force_on_the_same_day(tmp_path):
    _write(
        tmp_path, "US", [_entry(effective_from="2020-01-01", until="2026-01-01"), _entry(effective_from="2025-09-01")]
    )
    with pytest.raises(RulesError, match="same day"):
        load_rules(tmp_path)


def test_a_law_that_changes_on_a_date_is_two_entries_one_ending_where_the_next_begins(tmp_path):
    _write(
        tmp_path, "US", [_entry(effective_from="2020-01-01", until="2025-09-01"), _entry(effective_from="2025-09-01")]
    )
    assert len(load_rules(tmp_path)) == 3


def test_the_loader_refuses_a_rules_file_with_an_unknown_top_level_key(tmp_path):
    _write(tmp_path, "US", [_entry()], extra={"comment": "hello"})
    with pytest.raises(RulesError, match="comment"):
        load_rules(tmp_path)


@pytest.fixture
def rules_from(monkeypatch):
    """Swap the loaded rules for a test's own; the caches are cleared on the way in and out."""

    def use(entries):
        monkeypatch.setattr(cw, "ENTRIES", entries)
        cw._entries_by_code.cache_clear()
        cw._legal_rule.cache_clear()

    yield use
    monkeypatch.undo()
    cw._entries_by_code.cache_clear()
    cw._legal_rule.cache_clear()


def test_a_law_loaded_ahead_of_its_effective_date_applies_only_from_that_date(tmp_path, rules_from):
    _write(
        tmp_path,
        "US",
        [
            _entry(
                jurisdiction="US-NV",
                effective_from="2030-01-01",
                hours={d: {"start": "10:00", "end": "18:00"} for d in DAYS},
            )
        ],
    )
    rules_from(load_rules(tmp_path))
    assert cw.legal_rule("US-NV", date(2029, 12, 31)).hours_on(0) == cw.legal_rule("US", date(2029, 12, 31)).hours_on(0)
    assert (cw.legal_rule("US-NV", date(2030, 1, 1)).start, cw.legal_rule("US-NV", date(2030, 1, 1)).end) == (
        cw.time(10),
        cw.time(18),
    )


def test_the_rules_directory_holds_only_rules_files_and_their_loader():
    assert {p.suffix for p in RULES_DIR.iterdir() if p.is_file()} <= {".json", ".py"}


def test_docs_compliance_md_is_generated_from_the_rules_and_up_to_date():
    assert DOC_PATH.exists(), "run `make compliance-doc`"
    assert DOC_PATH.read_text() == render(), "docs/compliance.md is stale: run `make compliance-doc`"


def test_the_compliance_page_lists_every_rule_with_its_source_and_every_unverified_rule():
    page = render()
    for entry in ENTRIES:
        assert entry.source.url in page and entry.summary in page
    section = page.split("## Not verified", 1)[1]
    assert sum(1 for e in ENTRIES if not e.verified) == section.count("\n- `")
