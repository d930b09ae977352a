"""One DAG per campaign in the campaign catalog.

Parsed in the dag-processor (every campaign) and on workers at every task start and sensor
poke (only the campaign being run, via the parsing context). See include/campaigns/catalog.py.
"""

from airflow.sdk import get_parsing_context

from include.campaigns.catalog import load_catalog
from include.campaigns.dag_factory import build_campaign_dag

for _spec in load_catalog(get_parsing_context().dag_id):
    globals()[_spec.dag_id] = build_campaign_dag(_spec)
