"""Call records of every campaign, whatever state its runs are in.

A sensor poke ingests its own campaign's records while its run lasts. Records keep coming after
that: a call still going on when a run was cancelled or ended, a dialer that was down for an hour.
``ingest_all`` (the ``campaign_results_ingest`` DAG) folds every campaign's waiting records into
contact states, and quarantines those that carry a campaign id no campaign has, so that no record
is stranded and no run waits on one. Opt-outs do not wait for it: a trigger on ``call_records``
blacklists the number dialed the moment the dialer records one.
"""

from __future__ import annotations

import logging

from include.campaigns.config import ConfigError
from include.campaigns.db import fetch_all
from include.campaigns.progress import ingest

log = logging.getLogger(__name__)


def ingest_all(conn) -> dict[str, int]:
    """Ingest every campaign's waiting call records; return the counts."""
    from include.campaigns.campaign import Campaign, load_campaign

    totals = {"campaigns": 0, "ingested": 0, "opted_out": 0}
    for row in fetch_all(conn, "call_records_waiting_campaigns"):
        # A campaign id no campaign has: every record quarantines against its dial task (or its
        # absence), and nothing is applied, so no config is needed.
        campaign = load_campaign(conn, row["campaign_id"]) if row["known"] else Campaign.missing(row["campaign_id"])
        try:
            _ = campaign.config  # parsed once here; ingest reads the same parse
        except ConfigError as exc:
            # Its results are still applied, with the default retry delays, rather than stranded.
            log.warning("Campaign %s has an invalid config (%s); ingesting with the defaults", campaign.id, exc)
            campaign = campaign.with_default_config()
        ingested, opted_out = ingest(conn, campaign)
        totals["campaigns"] += 1
        totals["ingested"] += ingested
        totals["opted_out"] += len(opted_out)
    if totals["campaigns"]:
        log.info("Ingested %(ingested)d call record(s) of %(campaigns)d campaign(s), %(opted_out)d opt-out(s)", totals)
    return totals
