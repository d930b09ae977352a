"""Where a campaign's queue, topic and bucket are, and the hooks that reach them.

Names come from Airflow Variables (declared in airflow_settings.yaml), overridable per campaign
in its config. Credentials and endpoints live only in the Airflow connections.
"""

from __future__ import annotations

AWS_CONN_ID = "campaigns_aws"
REDIS_CONN_ID = "campaigns_redis"
DIAL_QUEUE_VAR = "campaign_dial_queue"
TOPIC_VAR = "campaign_notification_topic"
BUCKET_VAR = "campaign_report_bucket"


def variable(name: str) -> str:
    from airflow.sdk import Variable

    return Variable.get(name)


def sqs_client():
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    return SqsHook(aws_conn_id=AWS_CONN_ID).get_conn()


def dial_queue(override: str | None = None) -> str:
    """The dial queue's name or URL: the campaign's own, or the Airflow Variable's."""
    return override or variable(DIAL_QUEUE_VAR)


def dial_queue_url(client, override: str | None = None) -> str:
    return queue_url_of(client, dial_queue(override))


def queue_url_of(client, queue: str) -> str:
    """A queue's URL: ``queue`` itself when it is one, else looked up by name."""
    if queue.startswith(("http://", "https://")):
        return queue
    return client.get_queue_url(QueueName=queue)["QueueUrl"]


def topic_arn(override: str | None = None) -> str:
    return override or variable(TOPIC_VAR)


def report_bucket() -> str:
    return variable(BUCKET_VAR)
