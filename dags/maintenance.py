"""Housekeeping DAGs that serve every campaign.

- `campaign_answer_model`: refits the answer-probability model dispatch orders contacts by.
- `campaign_blacklist_sync`: makes the Redis opt-out set equal to PostgreSQL's active global
  blacklist entries: a Redis that restarted empty is whole again within minutes, and entries
  that expired or were deleted leave it. An opt-out written to Redis within the last hour is
  kept whatever PostgreSQL says yet. First, rows an operator wrote E.164 in shape only are
  rewritten in their E.164 form.
"""

from datetime import datetime, timezone

from airflow.sdk import CronTriggerTimetable, dag, task

from include.campaigns.dag_factory import DEFAULT_ARGS

COMMON = dict(
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    default_args={**DEFAULT_ARGS, "owner": "campaign-ops"},
    tags=["campaign", "maintenance"],
    doc_md=__doc__,
    # Unpaused on creation: every campaign relies on these, and they are safe at any time.
    is_paused_upon_creation=False,
)


@dag(dag_id="campaign_answer_model", schedule=CronTriggerTimetable("30 3 * * *", timezone="UTC"), **COMMON)
def campaign_answer_model():
    @task(pool="campaign_db")
    def train_answer_model(lookback_days: int = 90) -> dict:
        """Refit per-hour answer rates and each contact's affinity from recent call records."""
        from include.campaigns.db import campaign_db
        from include.campaigns.prioritization import train

        with campaign_db() as conn:
            return train(conn, lookback_days)

    train_answer_model()


@dag(dag_id="campaign_blacklist_sync", schedule=CronTriggerTimetable("*/15 * * * *", timezone="UTC"), **COMMON)
def campaign_blacklist_sync():
    @task
    def normalize_blacklist() -> dict:
        """Rewrite rows an operator inserted E.164 in shape only (``+44 0 20 ...``) in their E.164
        form, and retry the rows set aside as unreadable; those still unreadable are logged."""
        from include.campaigns.blacklist import normalize_listed, normalize_rejected
        from include.campaigns.db import campaign_db

        with campaign_db() as conn:
            return {**normalize_rejected(conn), "rewritten": normalize_listed(conn)}

    @task
    def sync_blacklist() -> int:
        """Mirror the active global blacklist entries in the Redis opt-out set; return how many."""
        from include.campaigns.blacklist import sync_from_postgres
        from include.campaigns.db import campaign_db

        with campaign_db() as conn:
            return sync_from_postgres(conn)

    normalize_blacklist() >> sync_blacklist()


campaign_answer_model()
campaign_blacklist_sync()


@dag(dag_id="campaign_results_ingest", schedule=CronTriggerTimetable("*/2 * * * *", timezone="UTC"), **COMMON)
def campaign_results_ingest():
    """Every campaign's waiting call records into contact states, whatever state its runs are in.

    A run's sensor ingests only while the run lasts; results that come after it (a call still going
    on at a cancel or at the run's end, a dialer that was down) would otherwise wait for the
    campaign's next run, or for ever. Opt-outs do not wait for this DAG: a trigger on call_records
    blacklists them as they are written; this adds them to Redis and moves their contacts.
    """

    @task(pool="campaign_db")
    def ingest_all_results() -> dict:
        from include.campaigns.db import campaign_db
        from include.campaigns.results import ingest_all

        with campaign_db() as conn:
            return ingest_all(conn)

    ingest_all_results()


campaign_results_ingest()
