"""One measured process: ``python -m benchmarks.worker '<job json>'``.

The harness runs every timed job in a fresh process, so each one pays its own imports outside
the clock, reports its own peak RSS, and can run beside another (the sharded dispatch). Protocol
on stdout: ``BENCH-READY {...}`` once set up; then, for synchronized jobs, it waits for a line on
stdin, so several processes start the clock together; finally ``BENCH-RESULT {...}``. Any other
output (the product's logs) is ignored by the harness.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
from datetime import datetime, timedelta, timezone

_CPU_AT_GO = [0.0]


def _rss_mb() -> float:
    """Peak resident set of this process so far (VmHWM), in MB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    """This process's CPU seconds, with its children that have exited (a dispatch's sending process)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def partial(payload: dict) -> None:
    """Results so far, for a job the harness may have to stop at its cap."""
    _emit("BENCH-PARTIAL", payload)


def _emit(tag: str, payload: dict) -> None:
    sys.stdout.write(f"{tag} {json.dumps(payload, default=str)}\n")
    sys.stdout.flush()


def _ready_and_wait(**info) -> float:
    _emit("BENCH-READY", {"rss_ready_mb": _rss_mb(), **info})
    if not sys.stdin.readline():
        raise SystemExit("harness went away")
    _CPU_AT_GO[0] = _cpu()
    return time.time()


def _run_context(campaign_id: int, run_id: str, **kw):
    from include.campaigns.runs import RunContext

    now = datetime.now(timezone.utc)
    return RunContext(
        campaign_id=campaign_id, run_id=run_id, run_start=now, run_end=now + timedelta(hours=2), live=True, **kw
    )


def synthetic_rows(count: int, not_after: datetime) -> list[dict]:
    """Rows shaped like dispatch's claimed rows, for messages of the very same size and shape."""
    return [
        {
            "dial_attempt_id": f"c900-{1_000_000 + i}-1",
            "contact_id": 1_000_000 + i,
            "phone": f"+1212{2_000_000 + i % 8_000_000:07d}",
            "attempt": 1,
            "not_after": not_after,
        }
        for i in range(count)
    ]


def job_raw(job: dict) -> dict:
    """The ceiling: the product's SQS client pushing pre-built dial tasks, no database at all."""
    from benchmarks.data import BENCH_CONFIG
    from include.campaigns.campaign import Campaign
    from include.campaigns.config import parse_config
    from include.campaigns.resources import dial_queue_url, sqs_client
    from include.campaigns.sender import dial_task_body
    from include.campaigns.sqs_batches import SQS_BATCH

    config = parse_config(BENCH_CONFIG)
    campaign = dataclasses.replace(Campaign.missing(900), slug="raw_sender")
    not_after = datetime.now(timezone.utc) + timedelta(hours=2)
    bodies = [dial_task_body(campaign, config, row, "bench__raw") for row in synthetic_rows(job["count"], not_after)]
    client = sqs_client()
    queue_url = dial_queue_url(client)
    batches = [
        [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies[s : s + SQS_BATCH])]
        for s in range(0, len(bodies), SQS_BATCH)
    ]
    client.send_message_batch(QueueUrl=queue_url, Entries=batches.pop())  # connection warm, as dispatch's is
    t_go = _ready_and_wait()
    sent, marks = 0, []
    tenth = max(1, len(batches) // 10)
    for n, entries in enumerate(batches):
        pending = entries
        while pending:
            response = client.send_message_batch(QueueUrl=queue_url, Entries=pending)
            ok = {e["Id"] for e in response.get("Successful", [])}
            sent += len(ok)
            pending = [e for e in pending if e["Id"] not in ok]
        if n % tenth == 0:
            marks.append((sent, time.time()))
    t_end = time.time()
    marks.append((sent, t_end))
    first = (marks[1][0] - marks[0][0]) / (marks[1][1] - marks[0][1]) if len(marks) > 2 else None
    last = (marks[-1][0] - marks[-2][0]) / (marks[-1][1] - marks[-2][1]) if len(marks) > 2 else None
    return {
        "sent": sent,
        "warm_up": SQS_BATCH,
        "t_go": t_go,
        "t_end": t_end,
        "rate_first_tenth": first,
        "rate_last_tenth": last,
        "rss_peak_mb": _rss_mb(),
    }


def job_dispatch(job: dict) -> dict:
    """include.campaigns.dispatch.dispatch, end to end, exactly as the dispatch_contacts task calls it."""
    from include.campaigns.campaign import load_campaign
    from include.campaigns.db import campaign_db
    from include.campaigns.dispatch import dispatch

    run = _run_context(job["campaign_id"], job["run_id"], max_contacts=job.get("max_contacts"))
    with campaign_db() as conn:
        campaign = load_campaign(conn, job["campaign_id"])
        t_go = _ready_and_wait()
        result = dispatch(conn, campaign, run, shard=job.get("shard", 0), shard_count=job.get("shard_count", 1))
        t_end = time.time()
    return {**result.as_dict(), "t_go": t_go, "t_end": t_end, "rss_peak_mb": _rss_mb()}


def job_baseline(job: dict) -> dict:
    from airflow.providers.redis.hooks.redis import RedisHook

    from benchmarks import seed_baseline
    from include.campaigns.calling_window import open_keys
    from include.campaigns.campaign import load_campaign
    from include.campaigns.config import parse_config
    from include.campaigns.db import campaign_db, fetch_all
    from include.campaigns.resources import REDIS_CONN_ID, dial_queue_url, sqs_client

    client = sqs_client()
    queue_url = dial_queue_url(client)
    redis = RedisHook(redis_conn_id=REDIS_CONN_ID).get_conn()
    with campaign_db() as conn:
        campaign = load_campaign(conn, job["campaign_id"])
        config = parse_config(campaign.raw_config)
        keys = [r["window_key"] for r in fetch_all(conn, "campaign_window_keys", {"campaign_id": campaign.id})]
        opened = open_keys(config.policy, keys, datetime.now(timezone.utc))
        dispatcher = seed_baseline.SeedDispatcher(
            conn, redis, client, queue_url, campaign, config, opened, job["run_id"]
        )
        t_go = _ready_and_wait()
        result = seed_baseline.run(dispatcher, deadline=t_go + job["seconds"])
    return {**result, "t_go": t_go, "rss_peak_mb": _rss_mb()}


def job_pokes(job: dict) -> dict:
    """The completion sensor's poke on the big campaign: idle pokes, and pokes after 10,000 new
    call records (with the top-up, as the sensor runs it, and with dispatch off)."""
    from benchmarks import scenarios

    _ready_and_wait()
    return scenarios.pokes(job)


def job_report(job: dict) -> dict:
    from benchmarks import scenarios

    _ready_and_wait()
    return scenarios.report(job)


def job_claim(job: dict) -> dict:
    from benchmarks import scenarios

    _ready_and_wait()
    return scenarios.claim(job)


def job_eligibility(job: dict) -> dict:
    from benchmarks import eligibility

    _ready_and_wait()
    return eligibility.run(job)


JOBS = {
    "raw": job_raw,
    "eligibility": job_eligibility,
    "dispatch": job_dispatch,
    "baseline": job_baseline,
    "pokes": job_pokes,
    "report": job_report,
    "claim": job_claim,
}


def main(argv: list[str]) -> int:
    import logging

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    job = json.loads(argv[0])
    result = JOBS[job["kind"]](job)
    _emit("BENCH-RESULT", {"cpu_s": _cpu() - _CPU_AT_GO[0], **result})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
