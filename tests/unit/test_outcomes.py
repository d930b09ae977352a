"""One vocabulary of outcomes, held together: each member has its README row, its colour and its test.

Adding an outcome to `Outcome` without a row in the README's "How a run ends" table, without a
tone (the enum refuses a member without one), or without a test that names it fails here; so does
a README row naming an outcome the code never produces.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from include.campaigns.outcomes import NEUTRAL, Outcome, TonedStrEnum, tone_of
from include.campaigns.report_render import render_html

ROOT = Path(__file__).resolve().parents[2]

# Rows of the table that name no outcome: a quiet skip, a wait and a missing report.
NOT_OUTCOMES = {"skipped (no message)", "paused (no outcome yet)", "report missing"}

# The test that drives each outcome and asserts it by name.
OUTCOME_TESTS = {
    Outcome.DRY_RUN: "tests/integration/test_exit_paths.py::test_dry_run_selects_and_reports_but_sends_nothing",
    Outcome.REPORT_ONLY: "tests/integration/test_exit_paths.py::test_a_past_interval_dials_no_one_and_regenerates_its_report",
    Outcome.CANCELLED: "tests/integration/test_exit_paths.py::test_cancelled_campaign_counts_in_flight_work_and_sends_nothing_new",
    Outcome.COMPLETED: "tests/integration/test_exit_paths.py::test_completed_when_nothing_is_pending_or_in_flight",
    Outcome.COMPLETED_AT_END: "tests/integration/test_exit_paths.py::test_completed_at_end_time_counts_unreached_contacts_as_expired",
    Outcome.INTERVAL_ENDED: "tests/unit/test_runs.py::test_a_runs_interval_end_leaves_waiting_contacts_for_the_next_run",
    Outcome.LIMIT_REACHED: "tests/unit/test_runs.py::test_a_run_with_max_contacts_ends_once_its_dial_tasks_have_results",
    Outcome.NOTHING_TO_DO: "tests/unit/test_runs.py::"
    "test_a_run_that_found_nobody_callable_ends_nothing_to_do_and_keeps_the_campaign_scheduled",
    Outcome.VALIDATION_FAILED: "tests/integration/test_exit_paths.py::test_validation_failure_names_every_problem_and_does_not_retry",
    Outcome.FAILED: "tests/integration/test_exit_paths.py::test_a_task_that_exhausts_its_retries_fails_the_run_and_the_campaign",
    Outcome.ABANDON_RATE_EXCEEDED: "tests/integration/test_abandonment_guard.py::"
    "test_an_abandonment_spike_in_a_real_run_stops_the_top_up_and_alerts_once",
    Outcome.TOO_SLOW: "tests/integration/test_exit_paths.py::test_too_slow_alert_names_the_run_and_its_expected_duration",
}


def exit_path_rows() -> list[list[str]]:
    """The cells of every row of the README's "How a run ends" table."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### How a run ends") :]
    lines = section.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| Outcome |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.split("|")[1:-1]])
    return rows


def named_outcome(cell: str) -> str | None:
    match = re.match(r"`([a-z_]+)`", cell)
    return match.group(1) if match else None


def test_the_readmes_exit_path_table_has_exactly_one_row_per_outcome():
    rows = exit_path_rows()
    named = [named_outcome(row[0]) for row in rows]
    assert sorted(n for n in named if n) == sorted(o.value for o in Outcome), "one row per outcome, and no other"
    assert {row[0] for row, name in zip(rows, named) if name is None} == NOT_OUTCOMES
    for row, name in zip(rows, named):
        tone = f"`{Outcome(name).tone}` ({Outcome(name).tone.severity})" if name else "—"
        assert row[-1] == tone, f"the README gives {name or row[0]} the tone {row[-1]}, the code {tone}"


def test_every_outcome_has_a_colour_the_report_and_the_notification_show():
    report = _any_report()
    css = set(re.findall(r"\.badge\.(\w+)", render_html(report)))
    for outcome in Outcome:
        assert outcome.tone.value in css, f"no badge colour for {outcome}'s tone {outcome.tone}"
        report["outcome"] = outcome.value
        badge = re.search(r'<span class="badge (\w+)" data-meta="outcome">', render_html(report)).group(1)
        assert badge == outcome.tone.value != NEUTRAL, (outcome, badge)
        assert outcome.tone.severity in {"info", "warning", "critical"}
    assert NEUTRAL in css and tone_of("timed_out") == NEUTRAL, "an outcome an older version stored still gets a badge"


def test_an_outcome_cannot_be_declared_without_its_tone():
    with pytest.raises(TypeError):

        class Untoned(TonedStrEnum):
            NEW = "new_outcome"

    with pytest.raises(TypeError):

        class Mistoned(TonedStrEnum):
            NEW = "new_outcome", "green"


@pytest.mark.parametrize("outcome", list(Outcome), ids=str)
def test_every_outcome_is_named_by_a_test_that_drives_it(outcome):
    assert set(OUTCOME_TESTS) == set(Outcome), "every outcome needs its test in OUTCOME_TESTS"
    path, name = OUTCOME_TESTS[outcome].split("::")
    tree = ast.parse((ROOT / path).read_text())
    [function] = [node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name] or [None]
    assert function is not None, f"{OUTCOME_TESTS[outcome]} does not exist"
    names_it = any(
        (isinstance(node, ast.Constant) and node.value == outcome.value)
        or (
            isinstance(node, ast.Attribute)
            and node.attr == outcome.name
            and isinstance(node.value, ast.Name)
            and node.value.id == "Outcome"
        )
        for node in ast.walk(function)
    )
    assert names_it, f"{OUTCOME_TESTS[outcome]} never asserts {outcome.value!r}"


def _any_report() -> dict:
    from tests.unit.test_report_render import realistic_report

    return realistic_report()
