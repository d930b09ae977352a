"""A recurring campaign under Airflow's real scheduler, from its first tick to its end.

The campaign fires every minute (ticks M, M+1, M+2) and ends at M+2:50, so the DAG's end_date
allows exactly three runs. Its calling window is cut to the minute so that windows open and close
between ticks, and a scripted dialer gives each contact its outcomes:

    contact  local hour at M  its window          outcomes             expected end
    A        13               open throughout     no_answer, answered  completed, 2 attempts
    B        12               opens at M+1        answered             completed, 1 attempt
    C        3 (night)        never               -                    expired at the end, 0 attempts
    D        13               open throughout     voicemail (1 h)      expired at the end, 1 attempt
    E        14               closes at M+1       no_answer            expired at the end, 1 attempt

Run 1 dials A, D and E, and ends at its interval's end with B and C waiting for their windows, A
for its retry (due after run 1 ends) and D and E for theirs (E's rolled over its closed window to
tomorrow). Run 2 dials B and A's retry and ends at its interval's end, C still waiting. Run 3
finds nobody callable and ends at the campaign's end, which expires C, D and E and completes the
campaign with the final report.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from dev.dialer_simulator import DialerSimulator
from dev.seed import add_contacts, create_campaign
from include.campaigns.send_process import SEND_PROCESS_MIN_ROOM
from tests.helpers import closed_zone, us_numbers, zone_at_local_hour
from tests.integration.conftest import drain
from tests.scheduler.conftest import wait_for

pytestmark = pytest.mark.integration

TICKS = 3
END_AFTER_LAST_TICK = timedelta(seconds=50)
# The components need about half a minute to start and parse; the first tick leaves them that.
FIRST_TICK_AFTER = timedelta(seconds=35)


class ScriptedDialer(DialerSimulator):
    """The simulator, with each phone's outcomes scripted in order instead of drawn at random."""

    def __init__(self, queue_url: str, script: dict[str, list[str]]):
        super().__init__(queue_url, {"answered": 1.0}, seed=1)
        self.script = {phone: list(outcomes) for phone, outcomes in script.items()}
        self._next = "answered"

    def handle(self, conn, task, now):
        # Past its script a contact answers, so a dial the story does not expect shows in the states.
        self._next = self.script[task["phone"]].pop(0) if self.script.get(task["phone"]) else "answered"
        return super().handle(conn, task, now)

    def pick_outcome(self, hour: int) -> str:
        return self._next


def hhmm(instant: datetime, zone: str) -> str:
    return instant.astimezone(ZoneInfo(zone)).strftime("%H:%M")


def test_a_recurring_campaign_runs_tick_after_tick_and_ends_completed(
    db, redis_client, dial_queue, topic_inbox, sqs, real_airflow
):
    began = time.monotonic()
    now = datetime.now(timezone.utc)
    first_tick = (now + FIRST_TICK_AFTER).replace(second=0, microsecond=0) + timedelta(minutes=1)
    ticks = [first_tick + timedelta(minutes=i) for i in range(TICKS)]
    end_at = ticks[-1] + END_AFTER_LAST_TICK
    noon, one_pm, two_pm, night = (
        zone_at_local_hour(12, first_tick),
        zone_at_local_hour(13, first_tick),
        zone_at_local_hour(14, first_tick),
        closed_zone(first_tick),
    )
    a, b, c, d, e = us_numbers(5, seed=90)
    slug = f"sched_{int(now.timestamp())}"
    campaign_id = create_campaign(
        db,
        slug,
        schedule="* * * * *",
        tz="UTC",
        start_at=first_tick,
        end_at=end_at,
        poke_interval_s=15,
        # A hopper this deep sends from a sending process: under the real task runner here.
        max_in_flight=SEND_PROCESS_MIN_ROOM + 1000,
        config={
            "dial_queue": dial_queue,
            "skip_public_holidays": False,
            "max_attempts": 3,
            # The noon zone opens one tick in, as the two o'clock zone closes.
            "calling_window": {"start": hhmm(ticks[1], noon), "end": hhmm(ticks[1], two_pm)},
            "retry_delays_s": {"no_answer": 60, "voicemail": 3600},
        },
    )
    add_contacts(
        db,
        campaign_id,
        [
            {"phone": a, "timezone": one_pm},
            {"phone": b, "timezone": noon},
            {"phone": c, "timezone": night},
            {"phone": d, "timezone": one_pm},
            {"phone": e, "timezone": two_pm},
        ],
    )
    dialer = ScriptedDialer(
        dial_queue, {a: ["no_answer", "answered"], b: ["answered"], d: ["voicemail"], e: ["no_answer"]}
    ).start()
    try:
        airflow = real_airflow()
        dag_id = f"campaign_{slug}"

        def finished_runs():
            from airflow.models import DagRun

            runs = DagRun.find(dag_id=dag_id)
            return runs if len(runs) >= TICKS and all(r.state in ("success", "failed") for r in runs) else None

        budget = (end_at - datetime.now(timezone.utc)).total_seconds() + 90
        runs = sorted(
            wait_for(finished_runs, budget, airflow, f"{TICKS} finished runs of {dag_id}", every=3),
            key=lambda r: r.logical_date,
        )
    finally:
        dialer.stop()

    # Three runs, one per tick, by the scheduler alone; none after the campaign's end.
    assert [r.run_type for r in runs] == ["scheduled"] * TICKS
    assert [r.logical_date for r in runs] == ticks
    assert [r.state for r in runs] == ["success"] * TICKS, [(r.run_id, r.state) for r in runs]

    reports = {
        row[0]: row[1]
        for row in db.execute(
            "SELECT run_id, report FROM campaign_reports WHERE campaign_id = %s", (campaign_id,)
        ).fetchall()
    }
    outcomes = [reports[r.run_id]["outcome"] for r in runs]
    assert outcomes == ["interval_ended", "interval_ended", "completed_at_end"]
    final = reports[runs[-1].run_id]
    assert final["last_poke"]["campaign_ended"] is True, "the last run's report is the campaign's final one"
    assert [reports[r.run_id]["last_poke"]["campaign_ended"] for r in runs[:-1]] == [False, False]

    contacts = {
        row[0]: row[1:]
        for row in db.execute(
            "SELECT phone, status, attempts, status_reason FROM contacts WHERE campaign_id = %s", (campaign_id,)
        ).fetchall()
    }
    assert contacts == {
        a: ("completed", 2, None),
        b: ("completed", 1, None),
        c: ("expired", 0, "campaign_ended"),
        d: ("expired", 1, "campaign_ended"),
        e: ("expired", 1, "campaign_ended"),
    }
    # Nobody was expired before the campaign ended: every snapshot of the first runs has no expired.
    snapshots = db.execute(
        "SELECT run_id, counts FROM campaign_progress WHERE campaign_id = %s ORDER BY id", (campaign_id,)
    ).fetchall()
    assert {run_id for run_id, _ in snapshots} == {r.run_id for r in runs}
    assert all("expired" not in counts for run_id, counts in snapshots if run_id != runs[-1].run_id)
    # Each contact was dialed only inside its window: B once its zone opened, E before its closed, C never.
    dials = db.execute(
        "SELECT phone, run_id, claimed_at FROM dial_tasks WHERE campaign_id = %s", (campaign_id,)
    ).fetchall()
    dialed_in = [sorted(p for p, run, _ in dials if run == r.run_id) for r in runs]
    assert dialed_in == [sorted([a, d, e]), sorted([a, b]), []]
    assert all(at >= ticks[1] for p, _, at in dials if p == b) and all(at < ticks[1] for p, _, at in dials if p == e)
    assert db.execute("SELECT status FROM campaigns WHERE id = %s", (campaign_id,)).fetchone()[0] == "completed"

    # Exactly one message per run, naming its outcome: no validation_failed, failed or too_slow.
    messages = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    mine = [m for m in messages if m["MessageAttributes"]["campaign_id"]["Value"] == str(campaign_id)]
    announced = sorted(
        (m["MessageAttributes"]["outcome"]["Value"], [r.run_id for r in runs if r.run_id in m["Message"]]) for m in mine
    )
    assert announced == sorted((outcome, [r.run_id]) for outcome, r in zip(outcomes, runs))

    # The dispatch tasks sent from their sending process, in the task processes the executor started.
    from airflow.configuration import conf

    logs = Path(conf.get("logging", "base_log_folder"))
    dispatch_logs = [p.read_text() for p in logs.glob(f"dag_id={dag_id}/**/task_id=dispatch_contacts/**/*.log")]
    assert sum("from a sending process" in text for text in dispatch_logs) >= 2, dispatch_logs
    assert not [p for p in (a, b, c, d, e) for text in dispatch_logs if p in text or p[1:] in text]

    # Status changes (scheduled, active, scheduled, ..., completed) made no new DAG version.
    assert len({r.created_dag_version_id for r in runs}) == 1

    # The README's re-run request, against the real API (as a dry run): it clears a report task
    # that succeeded; without only_failed it clears nothing.
    readme_body = {
        "dag_run_id": runs[0].run_id,
        "task_ids": ["generate_report"],
        "only_failed": False,
        "include_downstream": False,
        "dry_run": True,
    }
    status, reply = airflow.api(f"/dags/{dag_id}/clearTaskInstances", method="POST", body=readme_body)
    assert status == 200 and [ti["task_id"] for ti in reply["task_instances"]] == ["generate_report"], reply
    status, reply = airflow.api(
        f"/dags/{dag_id}/clearTaskInstances",
        method="POST",
        body={k: v for k, v in readme_body.items() if k != "only_failed"},
    )
    assert status == 200 and reply["task_instances"] == []
    print(f"\nreal-scheduler test: {time.monotonic() - began:.0f} s wall")
