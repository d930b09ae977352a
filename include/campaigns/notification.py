"""Run outcomes and alerts, published to the campaign's SNS topic."""

from __future__ import annotations

import json
import logging

from include.campaigns.resources import AWS_CONN_ID, topic_arn

log = logging.getLogger(__name__)

SUBJECT_LIMIT = 100  # SNS rejects longer subjects


def publish(*, campaign: dict, run_id: str, outcome: str, summary: str, details: dict,
            topic_override: str | None = None) -> str:
    """Publish one message; subscribers filter on the campaign_id and outcome attributes."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    subject = f"[campaign {campaign['slug']}] {outcome}: {summary}"[:SUBJECT_LIMIT]
    body = "\n".join([
        f"Campaign: {campaign['name']} ({campaign['slug']}, id {campaign['id']})",
        f"Run: {run_id}",
        f"Outcome: {outcome}",
        summary,
        "",
        json.dumps(details, indent=2, sort_keys=True, default=str),
    ])
    response = SnsHook(aws_conn_id=AWS_CONN_ID).publish_to_target(
        target_arn=topic_arn(topic_override), message=body, subject=subject,
        message_attributes={"campaign_id": str(campaign["id"]), "campaign_slug": campaign["slug"],
                            "outcome": outcome},
    )
    log.info("Published %s for campaign %s run %s", outcome, campaign["slug"], run_id)
    return response["MessageId"]
