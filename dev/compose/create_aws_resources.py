"""Create the dial queue, notification topic and report bucket on the compose AWS emulator.

    python -m dev.compose.create_aws_resources

The emulator keeps its state in memory, so the aws-init service runs this on every
`docker compose up`. Names come from the campaign Variables and the endpoint from the
campaigns_aws connection: exactly what the DAGs will look up. Every call is idempotent.
"""

from __future__ import annotations

from include.campaigns.resources import AWS_CONN_ID, BUCKET_VAR, DIAL_QUEUE_VAR, TOPIC_VAR, variable


def main() -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.amazon.aws.hooks.sns import SnsHook
    from airflow.providers.amazon.aws.hooks.sqs import SqsHook

    queue = variable(DIAL_QUEUE_VAR)
    # Same visibility timeout as the embedded stack (dev/stack.py), so both behave alike.
    SqsHook(aws_conn_id=AWS_CONN_ID).create_queue(queue, attributes={"VisibilityTimeout": "60"})
    topic = variable(TOPIC_VAR).rsplit(":", 1)[-1]
    SnsHook(aws_conn_id=AWS_CONN_ID).get_conn().create_topic(Name=topic)
    bucket = variable(BUCKET_VAR)
    s3 = S3Hook(aws_conn_id=AWS_CONN_ID)
    if not s3.check_for_bucket(bucket):
        s3.create_bucket(bucket)
    print(f"AWS resources ready: queue {queue}, topic {topic}, bucket {bucket}")


if __name__ == "__main__":
    main()
