"""Campaign DAGs, part 2: one DAG per campaign in the catalog whose id mod CATALOG_PARTS is 2.

The campaigns are split over the files dags/campaigns_<k>.py so that the dag-processor parses
them in parallel and each file stays far under Airflow's parse timeout (see CATALOG_PARTS in
include/campaigns/catalog.py). Parsed in the dag-processor (this part's campaigns) and on workers
at every task start and sensor poke (only the campaign being run, via the parsing context).
"""

from airflow.sdk import get_parsing_context

from include.campaigns.catalog import load_catalog
from include.campaigns.dag_factory import build_campaign_dag

for _spec in load_catalog(get_parsing_context().dag_id, part=2):
    globals()[_spec.dag_id] = build_campaign_dag(_spec)
