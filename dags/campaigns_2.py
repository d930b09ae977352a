"""Campaign DAGs, part 2: the campaigns whose id mod CATALOG_PARTS is 2 (see dags/campaigns_0.py)."""

from airflow.sdk import get_parsing_context

from include.campaigns.catalog import load_catalog
from include.campaigns.dag_factory import build_campaign_dag

for _spec in load_catalog(get_parsing_context().dag_id, part=2):
    globals()[_spec.dag_id] = build_campaign_dag(_spec)
