"""Notifications carry attributes that subscriptions can filter on."""

from __future__ import annotations

import json
import uuid

import pytest

from dev.seed import create_campaign
from include.campaigns.dispatch import load_campaign
from include.campaigns.notification import publish
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


def test_a_subscription_filtered_on_outcome_gets_only_that_outcome(db, sqs):
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from include.campaigns.resources import topic_arn

    url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = SnsHook(aws_conn_id="campaigns_aws").get_conn()
    subscription = sns.subscribe(TopicArn=topic_arn(), Protocol="sqs", Endpoint=arn, Attributes={
        "FilterPolicy": json.dumps({"outcome": ["failed", "validation_failed"]})})["SubscriptionArn"]
    try:
        campaign = load_campaign(db, create_campaign(db, "notify_filter"))
        for outcome in ("completed", "failed", "too_slow", "validation_failed"):
            publish(campaign=campaign, run_id="r1", outcome=outcome, summary="s", details={"k": 1})
        received = [json.loads(m["Body"]) for m in drain(sqs, url)]
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)
    assert sorted(m["MessageAttributes"]["outcome"]["Value"] for m in received) == ["failed", "validation_failed"]
    assert all(m["Subject"].startswith("[campaign notify_filter] ") for m in received)
    assert all(m["MessageAttributes"]["campaign_id"]["Value"] == str(campaign["id"]) for m in received)
