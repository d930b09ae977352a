"""Campaign DAGs, part 3: the campaigns whose id mod CATALOG_PARTS is 3 (see dags/campaigns_0.py)."""

from airflow.sdk import get_parsing_context

from include.campaigns.catalog import build_dags

# One campaign that cannot be built is left out with its reason; the others still get their DAGs.
globals().update(build_dags(get_parsing_context().dag_id, part=3))
