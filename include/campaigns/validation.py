"""Everything that must be true before anyone is called; every problem is reported at once."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from include.campaigns.calling_window import legal_rule
from include.campaigns.config import CampaignConfig, ConfigError, parse_config
from include.campaigns.db import execute, fetch_one
from include.campaigns.phones import valid_timezone

CAMPAIGN_TYPES = ("outbound_ivr", "voice_broadcast", "agent_assisted")
RUNNABLE_STATUSES = ("scheduled", "active", "paused")


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
        if isinstance(node, dict) and node.get("audio"):
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


def campaign_problems(campaign: dict, *, live: bool, now: datetime | None = None) -> tuple[list[str], CampaignConfig | None]:
    """Problems with the campaign row itself; ``live`` runs must also be inside the campaign's dates."""
    now = now or datetime.now(timezone.utc)
    problems = []
    if not (campaign.get("name") or "").strip():
        problems.append("name is empty")
    if campaign.get("campaign_type") not in CAMPAIGN_TYPES:
        problems.append(f"type {campaign.get('campaign_type')!r} is not one of {', '.join(CAMPAIGN_TYPES)}")
    if live and campaign["status"] not in RUNNABLE_STATUSES:
        problems.append(f"status {campaign['status']!r} does not allow a run (needs one of {', '.join(RUNNABLE_STATUSES)})")
    if not valid_timezone(campaign.get("timezone")):
        problems.append(f"timezone {campaign.get('timezone')!r} is not an IANA time zone")
    if campaign["start_at"] >= campaign["end_at"]:
        problems.append("start_at is not before end_at")
    elif live and campaign["end_at"] <= now:
        problems.append(f"end_at {campaign['end_at'].isoformat()} is in the past")
    config = None
    try:
        config = parse_config(campaign.get("config"))
    except ConfigError as exc:
        problems.extend(exc.problems)
    if config is not None:
        window = config.policy.window
        floor = legal_rule("*")
        if max(window.start, floor.start) >= min(window.end, floor.end):
            problems.append(
                f"calling window {window.start:%H:%M}-{window.end:%H:%M} is entirely outside the legal "
                f"hours {floor.start:%H:%M}-{floor.end:%H:%M}")
        problems.extend(ivr_flow_problems(config.ivr_flow))
    return problems, config


def validate(conn, campaign: dict, *, live: bool, now: datetime | None = None) -> dict:
    """Validate a campaign for a run; store and raise every problem, or return a summary."""
    from include.campaigns.dispatch import resolve_contacts

    problems, config = campaign_problems(campaign, live=live, now=now)
    resolution = {"resolved": 0, "invalid": 0}
    if config is not None:
        try:
            missing = missing_audio(referenced_audio(config))
        except Exception as exc:  # S3 unreachable is a problem to report, not to hide
            problems.append(f"could not check audio files in S3: {exc.__class__.__name__}: {exc}")
        else:
            problems.extend(f"audio file {ref} does not exist in S3" for ref in missing)
    if not problems:
        resolution = resolve_contacts(conn, campaign)
    counts = fetch_one(conn, "contacts_dispatchable_count", {"campaign_id": campaign["id"]})
    # Nobody callable (now, or ever again) is not a fault of the campaign: the run ends with its own
    # outcome (nothing_to_do, or completed once every contact is finished), decided by the poke.
    if counts["total"] == 0:
        problems.append("the campaign has no contacts")
    with conn.transaction():
        execute(conn, "campaign_set_validation",
                {"campaign_id": campaign["id"], "errors": json.dumps(problems) if problems else None})
    if problems:
        raise CampaignInvalid(campaign["slug"], problems)
    return {"contacts": counts["total"], "dispatchable": counts["dispatchable"], **resolution}
