"""The dialer takes dial-task contract versions 1 and 2; only version 2 may report the new outcomes."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dev.dialer_simulator import DialerSimulator
from include.campaigns.sender import MESSAGE_VERSION


class Recorder:
    def __init__(self):
        self.rows = []

    def execute(self, sql, values):
        self.rows.append(values)


def task(version: int) -> dict:
    later = (datetime.now(timezone.utc) + timedelta(hours=1)).isoformat()
    return {
        "version": version,
        "dial_attempt_id": f"c1-1-{version}",
        "campaign_id": 1,
        "contact_id": 1,
        "phone": "+12125550123",
        "not_after": later,
    }


def test_the_orchestrator_sends_version_2():
    assert MESSAGE_VERSION == 2


def test_version_1_and_2_messages_are_both_accepted_and_only_version_2_reports_the_new_outcomes():
    dialer = DialerSimulator(outcomes={"abandoned": 1.0, "machine": 1.0, "busy": 1.0}, seed=3)
    conn = Recorder()
    now = datetime.now(timezone.utc)
    v1 = {dialer.handle(conn, task(1), now) for _ in range(50)}
    v2 = {dialer.handle(conn, task(2), now) for _ in range(50)}
    assert v1 == {"busy"}
    assert {"abandoned", "machine"} <= v2
    assert len(conn.rows) == 100


def test_a_message_of_an_unknown_version_is_not_dialed():
    dialer = DialerSimulator(seed=1)
    conn = Recorder()
    assert dialer.handle(conn, task(3), datetime.now(timezone.utc)) is None
    assert conn.rows == [] and dialer.dropped_version == ["c1-1-3"]
