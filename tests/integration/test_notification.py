"""Notifications carry attributes that subscriptions can filter on."""

from __future__ import annotations

import json
import uuid

import pytest

from dev.seed import create_campaign
from include.campaigns.campaign import load_campaign
from include.campaigns.notification import publish
from tests.integration.conftest import drain

pytestmark = pytest.mark.integration


def test_a_subscription_filtered_on_outcome_gets_only_that_outcome(db, sqs):
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from include.campaigns.resources import topic_arn

    url = sqs.create_queue(QueueName=f"failures-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = SnsHook(aws_conn_id="campaigns_aws").get_conn()
    subscription = sns.subscribe(
        TopicArn=topic_arn(),
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"outcome": ["failed", "validation_failed"]})},
    )["SubscriptionArn"]
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
    assert all(m["MessageAttributes"]["campaign_id"]["Value"] == str(campaign.id) for m in received)


@pytest.fixture
def campaign_topic(sqs):
    """A second topic, as a campaign's own `notification_topic`, with a queue subscribed to it."""
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    sns = SnsHook(aws_conn_id="campaigns_aws").get_conn()
    topic = sns.create_topic(Name=f"campaign-own-{uuid.uuid4().hex[:8]}")["TopicArn"]
    url = sqs.create_queue(QueueName=f"own-inbox-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    yield topic, url
    sns.delete_topic(TopicArn=topic)
    sqs.delete_queue(QueueUrl=url)


def test_a_campaign_with_its_own_topic_gets_its_outcomes_and_alerts_there(db, sqs, topic_inbox, campaign_topic):
    topic, own_inbox = campaign_topic
    campaign = load_campaign(db, create_campaign(db, "own_topic", config={"notification_topic": topic}))
    for outcome in ("completed", "failed", "too_slow"):
        publish(campaign=campaign, run_id="r1", outcome=outcome, summary="s", details={})

    received = [json.loads(m["Body"]) for m in drain(sqs, own_inbox)]
    assert sorted(m["MessageAttributes"]["outcome"]["Value"] for m in received) == ["completed", "failed", "too_slow"]
    assert all(m["TopicArn"] == topic for m in received)
    on_global = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    assert not [m for m in on_global if m["MessageAttributes"]["campaign_id"]["Value"] == str(campaign.id)]


def test_a_campaign_without_its_own_topic_uses_the_global_one(db, sqs, topic_inbox):
    campaign = load_campaign(db, create_campaign(db, "global_topic"))
    publish(campaign=campaign, run_id="r1", outcome="completed", summary="s", details={})

    [message] = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    assert message["MessageAttributes"]["campaign_id"]["Value"] == str(campaign.id)


def test_an_outcome_its_own_topic_refuses_still_reaches_the_global_topic(db, sqs, topic_inbox):
    gone = "arn:aws:sns:us-east-1:123456789012:no-such-topic"
    campaign = load_campaign(db, create_campaign(db, "gone_topic", config={"notification_topic": gone}))
    publish(campaign=campaign, run_id="r1", outcome="failed", summary="s", details={})

    [message] = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    assert message["MessageAttributes"]["outcome"]["Value"] == "failed"


def test_a_subscription_filtered_on_severity_gets_every_critical_outcome_and_nothing_else(db, sqs):
    from airflow.providers.amazon.aws.hooks.sns import SnsHook

    from include.campaigns.outcomes import Outcome
    from include.campaigns.resources import topic_arn

    url = sqs.create_queue(QueueName=f"pager-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns = SnsHook(aws_conn_id="campaigns_aws").get_conn()
    subscription = sns.subscribe(
        TopicArn=topic_arn(),
        Protocol="sqs",
        Endpoint=arn,
        Attributes={"FilterPolicy": json.dumps({"severity": ["critical"]})},
    )["SubscriptionArn"]
    try:
        campaign = load_campaign(db, create_campaign(db, "notify_severity"))
        for outcome in Outcome:
            publish(campaign=campaign, run_id="r1", outcome=outcome, summary="s", details={})
        received = [json.loads(m["Body"]) for m in drain(sqs, url)]
    finally:
        sns.unsubscribe(SubscriptionArn=subscription)
        sqs.delete_queue(QueueUrl=url)
    assert sorted(m["MessageAttributes"]["outcome"]["Value"] for m in received) == ["failed", "validation_failed"]
    assert {m["MessageAttributes"]["severity"]["Value"] for m in received} == {"critical"}


def test_an_outcome_outside_the_vocabulary_is_refused_before_anything_is_published(db, sqs, topic_inbox):
    campaign = load_campaign(db, create_campaign(db, "notify_unknown"))
    with pytest.raises(ValueError, match="timed_out"):
        publish(campaign=campaign, run_id="r1", outcome="timed_out", summary="s", details={})
    publish(campaign=campaign, run_id="r1", outcome="completed", summary="s", details={})
    [message] = [json.loads(m["Body"]) for m in drain(sqs, topic_inbox)]
    assert message["MessageAttributes"]["outcome"]["Value"] == "completed"
    assert message["MessageAttributes"]["severity"]["Value"] == "info"
