"""The demo: a 2,400-contact campaign across eight time zones, run end to end on the local stack.

    make demo        (or: python -m dev.demo)

Starts the embedded stack, seeds the campaign (some numbers blacklisted in PostgreSQL, some
only in Redis, some invalid), starts the dialer simulator, runs the campaign's DAG with
`airflow dags test`, and prints the report's headline figures.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from dev import stack

SLUG = "demo_outbound"
PER_REGION = 300


def seed(conn, minutes: float) -> int:
    from dev.seed import add_blacklist, add_contacts, create_campaign, delete_campaign, demo_contacts
    from include.campaigns.blacklist import add_opt_outs, remove_opt_outs

    rng = random.Random(2026)
    now = datetime.now(timezone.utc)
    delete_campaign(conn, SLUG)
    campaign_id = create_campaign(
        conn,
        SLUG,
        name="Demo: policy renewal reminders",
        tz="America/New_York",
        start_at=now - timedelta(minutes=1),
        end_at=now + timedelta(minutes=minutes),
        tags=["reminders"],
        poke_interval_s=3,
        max_in_flight=300,
        config={
            "calling_window": {
                "start": "08:00",
                "end": "21:00",
                "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            },
            "max_attempts": 2,
            "retry_delays_s": {"busy": 5, "no_answer": 10, "failed": 5, "voicemail": 10},
            "expiry_grace_s": 20,
            "caller_id": "+12125550100",
            "ivr_flow": {
                "entry": "greeting",
                "nodes": {"greeting": {"next": ["renew", "opt_out"]}, "renew": {"next": []}, "opt_out": {"next": []}},
            },
        },
    )
    contacts = demo_contacts(PER_REGION, rng)
    contacts += [{"phone": p} for p in ("+1555", "1212555012", "+99912345678", "+1212555012")]
    add_contacts(conn, campaign_id, contacts)
    # Every demo starts from the same lists: earlier demos' opt-outs would otherwise pile up.
    everyone = [c["phone"] for c in contacts]
    conn.execute("DELETE FROM blacklist WHERE phone = ANY(%s)", (everyone,))
    remove_opt_outs(everyone)
    phones = everyone[:80]
    add_blacklist(conn, phones[:40], reason="do_not_call")
    add_opt_outs(phones[40:80])  # opted out a moment ago: only Redis knows yet
    return campaign_id


def main() -> int:
    started = time.monotonic()
    print("Starting the embedded stack (PostgreSQL, Redis, moto) ...", flush=True)
    environ = stack.start()
    os.environ.update(environ)
    from include.campaigns.db import campaign_db

    minutes = float(os.environ.get("DEMO_MINUTES", "2"))
    with campaign_db() as conn:
        campaign_id = seed(conn, minutes)
    print(
        f"Seeded campaign {SLUG} (id {campaign_id}): {PER_REGION * 8} contacts in 8 zones, "
        "40 blacklisted in PostgreSQL, 40 opted out in Redis only, 4 malformed numbers",
        flush=True,
    )

    log_dir = stack.stack_dir() / "demo"
    log_dir.mkdir(exist_ok=True)
    bin_dir = Path(sys.executable).parent
    with open(log_dir / "dialer.log", "w") as dialer_log:
        dialer = subprocess.Popen(
            [sys.executable, "-m", "dev.dialer_simulator", "--seed", "7"],
            stdout=dialer_log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
    try:
        print(
            f"Running `airflow dags test campaign_{SLUG}` (at most {minutes:g} min; log: {log_dir}/dag_test.log)",
            flush=True,
        )
        with open(log_dir / "dag_test.log", "w") as dag_log:
            result = subprocess.run(
                [str(bin_dir / "airflow"), "dags", "test", f"campaign_{SLUG}"],
                stdout=dag_log,
                stderr=subprocess.STDOUT,
                env=os.environ.copy(),
            )
    finally:
        dialer.terminate()
        dialer.wait(10)
    with campaign_db() as conn:
        row = conn.execute(
            "SELECT run_id, report FROM campaign_reports WHERE campaign_id = %s ORDER BY updated_at DESC LIMIT 1",
            (campaign_id,),
        ).fetchone()
    if result.returncode != 0 or row is None:
        print((log_dir / "dag_test.log").read_text()[-6000:])
        print(f"The demo run failed (exit {result.returncode}); full log in {log_dir}/dag_test.log", file=sys.stderr)
        return 1
    print(summary(row[0], row[1]))
    print(f"\nDemo finished in {time.monotonic() - started:.0f} s.")
    return 0


def summary(run_id: str, report: dict) -> str:
    """The run's headline figures and a link that opens its report in a browser."""
    from include.campaigns.reporting import headline

    sys.path.insert(0, str(stack.ROOT / "plugins"))
    from campaign_reports import report_url

    figures = headline(report)
    lines = [f"\nCampaign {SLUG}, run {run_id}:"] + [f"  {key:20} {value}" for key, value in figures.items()]
    link = report_url(figures["report"], slug=SLUG)
    lines.append(f"Report: {figures['report']}\nOpen it (link valid 1 h, while the stack runs): {link}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
