"""Everything that must be true before anyone is called; every problem is reported at once."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from include.campaigns.calling_window import legal_rule
from include.campaigns.campaign_row import row_problems
from include.campaigns.config import CampaignConfig, ConfigError, parse_config
from include.campaigns.db import execute, fetch_one

if TYPE_CHECKING:
    from include.campaigns.campaign import Campaign

CAMPAIGN_TYPES = ("outbound_ivr", "voice_broadcast", "agent_assisted")
RUNNABLE_STATUSES = ("scheduled", "active", "paused")
# SQS's largest message; the whole dial task, IVR flow and audio list included, must fit.
MAX_MESSAGE_BYTES = 256 * 1024
# Airflow Variables holding the allowed destinations, each a JSON list (or comma-separated).
ALLOWED_QUEUE_PREFIXES_VAR = "campaign_allowed_queue_prefixes"
ALLOWED_TOPIC_PREFIXES_VAR = "campaign_allowed_topic_prefixes"
ALLOWED_AUDIO_BUCKETS_VAR = "campaign_allowed_audio_buckets"


_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}(\.fifo)?")


def quiet_end_reason(campaign: Campaign, *, live: bool, dry_run: bool = False) -> str | None:
    """Why a run of this campaign has nothing to do and ends quietly, or None.

    A campaign whose status allows no run (a draft, or one that completed, failed or was
    cancelled) is not a new problem: its operator already knows, and a recurring DAG ticks on.
    An alert per tick would be an alert storm, so such a run is skipped with the reason in its log.
    A dry run is an explicit request and still gets the status named as a validation problem.
    """
    if live and not dry_run and campaign.status not in RUNNABLE_STATUSES:
        return (
            f"campaign {campaign.slug} is {campaign.status}: this run has nothing to do "
            f"(a run needs one of {', '.join(RUNNABLE_STATUSES)})"
        )
    return None


class CampaignInvalid(ValueError):
    def __init__(self, slug: str, problems: list[str]):
        super().__init__(f"campaign {slug} is not valid: " + "; ".join(problems))
        self.problems = problems


def ivr_flow_problems(flow: dict | None) -> list[str]:
    """A flow is {"entry": id, "nodes": {id: {"audio"?: key, "next": [ids]}}}: one entry, no
    dangling edges, every node reachable, at least one terminal node, and no cycle without an exit."""
    if flow is None:
        return []
    nodes = flow.get("nodes")
    if not isinstance(nodes, dict) or not nodes:
        return ["ivr_flow.nodes must be a non-empty object"]
    entry = flow.get("entry")
    problems = []
    if not isinstance(entry, str) or entry not in nodes:
        problems.append(f"ivr_flow.entry {entry!r} is not a node")
        entry = None
    edges: dict[str, list[str]] = {}
    for node_id, node in nodes.items():
        nexts = (node or {}).get("next", []) if isinstance(node, dict) else None
        if not isinstance(nexts, list):
            problems.append(f"ivr_flow node {node_id!r}: next must be a list")
            nexts = []
        for target in nexts:
            if not isinstance(target, str) or target not in nodes:
                problems.append(f"ivr_flow node {node_id!r} points to missing node {target!r}")
        edges[node_id] = [t for t in nexts if isinstance(t, str) and t in nodes]
    terminals = {n for n, nexts in edges.items() if not nexts}
    if not terminals:
        problems.append("ivr_flow has no terminal node")
    if entry is not None:
        seen, stack = {entry}, [entry]
        while stack:
            for target in edges[stack.pop()]:
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        unreachable = sorted(set(nodes) - seen)
        if unreachable:
            problems.append(f"ivr_flow nodes unreachable from the entry: {', '.join(unreachable)}")
    # A node that cannot reach any terminal node sits in a cycle without an exit.
    can_exit = set(terminals)
    changed = True
    while changed:
        changed = False
        for node_id, nexts in edges.items():
            if node_id not in can_exit and any(t in can_exit for t in nexts):
                can_exit.add(node_id)
                changed = True
    trapped = sorted(set(nodes) - can_exit)
    if trapped and terminals:
        problems.append(f"ivr_flow nodes in a cycle with no exit: {', '.join(trapped)}")
    return problems


def referenced_audio(config: CampaignConfig) -> list[str]:
    keys = list(config.audio)
    for node in ((config.ivr_flow or {}).get("nodes") or {}).values():
        if isinstance(node, dict) and isinstance(node.get("audio"), str) and node["audio"]:
            keys.append(node["audio"])
    return sorted(set(keys))


def _split_s3(reference: str, default_bucket: str) -> tuple[str, str]:
    if reference.startswith("s3://"):
        bucket, _, key = reference[5:].partition("/")
        return bucket, key
    return default_bucket, reference


def missing_audio(references: list[str]) -> list[str]:
    if not references:
        return []
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from include.campaigns.resources import AWS_CONN_ID, report_bucket

    hook = S3Hook(aws_conn_id=AWS_CONN_ID)
    default_bucket = report_bucket()
    missing = []
    for reference in references:
        bucket, key = _split_s3(reference, default_bucket)
        if hook.head_object(key=key, bucket_name=bucket) is None:
            missing.append(reference)
    return missing


def campaign_problems(
    campaign: Campaign, *, live: bool, now: datetime | None = None
) -> tuple[list[str], CampaignConfig | None]:
    """Problems with the campaign row itself; ``live`` runs must also be inside the campaign's dates."""
    now = now or datetime.now(timezone.utc)
    row = row_problems(campaign.as_row())
    problems = [p for p in row if p == "name is empty"]
    if campaign.campaign_type not in CAMPAIGN_TYPES:
        problems.append(f"type {campaign.campaign_type!r} is not one of {', '.join(CAMPAIGN_TYPES)}")
    if live and campaign.status not in RUNNABLE_STATUSES:
        problems.append(
            f"status {campaign.status!r} does not allow a run (needs one of {', '.join(RUNNABLE_STATUSES)})"
        )
    problems.extend(p for p in row if p != "name is empty")
    dates_ok = not any(p.startswith(("start_at", "end_at")) for p in row)
    if dates_ok and live and campaign.end_at <= now:
        problems.append(f"end_at {campaign.end_at.isoformat()} is in the past")
    config = None
    try:
        config = parse_config(campaign.raw_config)
    except ConfigError as exc:
        problems.extend(exc.problems)
    if config is not None:
        window = config.policy.window
        floor = legal_rule("*")
        if max(window.start, floor.start) >= min(window.end, floor.end):
            problems.append(
                f"calling window {window.start:%H:%M}-{window.end:%H:%M} is entirely outside the legal "
                f"hours {floor.start:%H:%M}-{floor.end:%H:%M}"
            )
        problems.extend(ivr_flow_problems(config.ivr_flow))
        problems.extend(dial_task_size_problems(campaign, config))
    return problems, config


def dial_task_size_problems(campaign: Campaign, config: CampaignConfig) -> list[str]:
    """The largest dial task this campaign can send, encoded by the dispatcher's own encoder,
    must fit one SQS message."""
    from include.campaigns.sender import DialTaskEncoder

    largest = {
        "dial_attempt_id": f"c{campaign.id}-{10**18}-{10**6}",
        "contact_id": 10**18,
        "phone": "+" + "9" * 15,
        "attempt": 10**6,
        "not_after": datetime(9999, 1, 1, tzinfo=timezone.utc),
    }
    # Airflow's run_id column is varchar(250).
    encoder = DialTaskEncoder(campaign, config, "r" * 250)
    size = len(encoder(largest).encode())
    if size > MAX_MESSAGE_BYTES:
        return [
            f"a dial task would be {size} bytes, over the {MAX_MESSAGE_BYTES}-byte queue message limit "
            "(make ivr_flow or audio smaller)"
        ]
    return []


def _allowed(variable: str) -> list[str] | None:
    """The Variable's list, or None when it is unset."""
    from airflow.sdk import Variable

    raw = Variable.get(variable, default=None)
    if raw is None or not str(raw).strip():
        return None
    try:
        values = json.loads(raw)
    except ValueError:
        values = raw.split(",")
    if isinstance(values, str):
        values = [values]
    return [str(v).strip() for v in values if str(v).strip()]


def destination_problems(
    config: CampaignConfig, *, own_queue_url=None, own_topic_arn=None, own_bucket=None
) -> list[str]:
    """Destinations named in the config must be on the allow-lists held in Airflow Variables.

    With a Variable unset only the stack's own resources are allowed: a queue name (resolved in
    our own account) or a URL under the default dial queue's account, a topic under the default
    topic's account and region, audio in the report bucket. The ``own_*`` callables give those
    defaults and are called only when needed.
    """
    from include.campaigns import resources

    problems = []
    queue = config.dial_queue
    if queue and queue.startswith(("http://", "https://")):
        prefixes = _allowed(ALLOWED_QUEUE_PREFIXES_VAR)
        if prefixes is None:
            own = (own_queue_url or (lambda: resources.dial_queue_url(resources.sqs_client())))()
            prefixes = [own.rsplit("/", 1)[0] + "/"]
        if not any(queue.startswith(p) for p in prefixes):
            problems.append(
                f"dial_queue {queue!r} is not under an allowed queue prefix (Variable {ALLOWED_QUEUE_PREFIXES_VAR})"
            )
    elif queue is not None and not _QUEUE_NAME.fullmatch(queue):
        problems.append(f"dial_queue {queue!r} is neither an SQS queue name nor a queue URL")
    topic = config.notification_topic
    if topic:
        prefixes = _allowed(ALLOWED_TOPIC_PREFIXES_VAR)
        if prefixes is None:
            own = (own_topic_arn or resources.topic_arn)()
            prefixes = [own.rsplit(":", 1)[0] + ":"]
        if not any(topic.startswith(p) for p in prefixes):
            problems.append(
                f"notification_topic {topic!r} is not under an allowed topic prefix "
                f"(Variable {ALLOWED_TOPIC_PREFIXES_VAR})"
            )
    foreign = [ref for ref in referenced_audio(config) if ref.startswith("s3://")]
    if foreign:
        buckets = _allowed(ALLOWED_AUDIO_BUCKETS_VAR)
        if buckets is None:
            buckets = [(own_bucket or resources.report_bucket)()]
        for ref in foreign:
            if _split_s3(ref, "")[0] not in buckets:
                problems.append(f"audio {ref!r} is not in an allowed bucket (Variable {ALLOWED_AUDIO_BUCKETS_VAR})")
    return problems


# 16 CFR § 310.4(b)(3)(iv): a call to a US number needs a version of the National Do Not Call
# Registry obtained no more than 31 days before the call.
DNC_MAX_AGE = timedelta(days=31)


def dnc_problems(row: dict, now: datetime) -> list[str]:
    """A campaign that may still dial a US contact needs its list scrubbed against the national
    registry within the last 31 days; the whole campaign is refused, not its US contacts alone,
    so an operator sees it before the run rather than a silent partial run."""
    if not row["has_us_contacts"]:
        return []
    scrubbed = row["dnc_scrubbed_at"]
    if scrubbed is None:
        return [
            "dnc_scrubbed_at is not set, and the campaign has US contacts: scrub the list against the "
            "National Do Not Call Registry (16 CFR 310.4(b)(3)(iv)) and record the date"
        ]
    if now - scrubbed > DNC_MAX_AGE:
        return [
            f"dnc_scrubbed_at {scrubbed.isoformat()} is more than 31 days old, and the campaign has US "
            f"contacts: 16 CFR 310.4(b)(3)(iv) needs the registry accessed no more than 31 days before a call"
        ]
    return []


def validate(conn, campaign: Campaign, *, live: bool, now: datetime | None = None) -> dict:
    """Validate a campaign for a run; store and raise every problem, or return a summary."""
    from include.campaigns.resolution import resolve_contacts

    problems, config = campaign_problems(campaign, live=live, now=now)
    resolution = {"resolved": 0, "invalid": 0}
    if config is not None:
        try:
            problems.extend(destination_problems(config))
        except Exception as exc:  # a Variable or the queue lookup failing is a problem to report
            problems.append(f"could not check the destinations: {exc.__class__.__name__}: {exc}")
        try:
            missing = missing_audio(referenced_audio(config))
        except Exception as exc:  # S3 unreachable is a problem to report, not to hide
            problems.append(f"could not check audio files in S3: {exc.__class__.__name__}: {exc}")
        else:
            problems.extend(f"audio file {ref} does not exist in S3" for ref in missing)
    if not problems:
        resolution = resolve_contacts(conn, campaign)
        if config is not None and config.requires_consent:
            with conn.transaction():
                resolution["no_consent"] = fetch_one(conn, "contacts_mark_no_consent", {"campaign_id": campaign.id})[
                    "marked"
                ]
        problems.extend(
            dnc_problems(
                fetch_one(conn, "campaign_dnc_check", {"campaign_id": campaign.id}), now or datetime.now(timezone.utc)
            )
        )
    counts = fetch_one(conn, "contacts_dispatchable_count", {"campaign_id": campaign.id})
    # Nobody callable (now, or ever again, or no contacts yet) is not a fault of the campaign: the
    # run ends with its own outcome (nothing_to_do, or completed with every contact finished),
    # decided by the poke.
    with conn.transaction():
        execute(
            conn,
            "campaign_set_validation",
            {"campaign_id": campaign.id, "errors": json.dumps(problems) if problems else None},
        )
    if problems:
        raise CampaignInvalid(campaign.slug, problems)
    return {"contacts": counts["total"], "dispatchable": counts["dispatchable"], **resolution}
