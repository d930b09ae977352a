"""Campaign DAGs, part 0: one DAG per campaign in the catalog whose id mod CATALOG_PARTS is 0.

The campaigns are split over the files dags/campaigns_<k>.py so that the dag-processor parses
them in parallel and each file stays far under Airflow's parse timeout (see CATALOG_PARTS in
include/campaigns/catalog.py). Parsed in the dag-processor (this part's campaigns) and on workers
at every task start and sensor poke (only the campaign being run, via the parsing context).
"""

from airflow.sdk import get_parsing_context

from include.campaigns.catalog import build_dags

# One campaign that cannot be built is left out with its reason; the others still get their DAGs.
globals().update(build_dags(get_parsing_context().dag_id, part=0))
