"""Run outcomes and alerts, published to the campaign's SNS topic."""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from include.campaigns.outcomes import Outcome
from include.campaigns.resources import AWS_CONN_ID, topic_arn

if TYPE_CHECKING:
    from include.campaigns.campaign import Campaign

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def campaign_topic(campaign: Campaign) -> str | None:
    """The campaign's own `notification_topic`, read from the row's raw config: an alert about a
    config that failed to parse must still reach the campaign's subscribers."""
    config = campaign.raw_config
    topic = config.get("notification_topic") if isinstance(config, dict) else None
    return topic if isinstance(topic, str) and topic.strip() else None


def publish(
    *,
    campaign: Campaign,
    run_id: str,
    outcome: Outcome | str,
    summary: str,
    details: dict,
    topic_override: str | None = None,
) -> str:
    """Publish one message to the campaign's topic (its config's `notification_topic`, else the
    global one); subscribers filter on the campaign_id, outcome and severity attributes.

    The outcome is one of `Outcome` (an XCom brings it back as its plain string); any other string
    is refused before anything is sent, so no subscriber's filter silently misses a misspelt one.

    A campaign topic that refuses the message (deleted, no permission) must not lose the outcome:
    it then goes to the global topic, and the log says why.
    """
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    outcome = Outcome(outcome)
    subject = f"[campaign {campaign.slug}] {outcome}: {summary}"[:SUBJECT_LIMIT]
    body = "\n".join(
        [
            f"Campaign: {campaign.name} ({campaign.slug}, id {campaign.id})",
            f"Run: {run_id}",
            f"Outcome: {outcome}",
            summary,
            "",
            json.dumps(details, indent=2, sort_keys=True, default=str),
        ]
    )
    hook = SnsHook(aws_conn_id=AWS_CONN_ID)
    attributes = {
        "campaign_id": str(campaign.id),
        "campaign_slug": campaign.slug,
        "outcome": outcome.value,
        "severity": outcome.tone.severity,
    }
    target = topic_arn(topic_override or campaign_topic(campaign))
    try:
        response = hook.publish_to_target(
            target_arn=target, message=body, subject=subject, message_attributes=attributes
        )
    except Exception as exc:
        fallback = topic_arn()
        if target == fallback:
            raise
        log.warning(
            "Campaign %s: its topic %s refused %s (%s: %s); publishing to the global topic instead",
            campaign.slug,
            target,
            outcome,
            type(exc).__name__,
            exc,
        )
        target = fallback
        response = hook.publish_to_target(
            target_arn=target, message=body, subject=subject, message_attributes=attributes
        )
    log.info("Published %s for campaign %s run %s to %s", outcome, campaign.slug, run_id, target)
    return response["MessageId"]
