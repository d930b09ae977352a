"""Who to call first: an answer-probability model trained from call_records.

Empirical Bayes, twice. Each local hour of the week gets the global answer rate's pull in
proportion to how little data it has; each contact's own rate is shrunk toward the global rate
with a prior strength estimated from the data (beta-binomial method of moments: how much real
spread there is between contacts beyond binomial noise). A contact's score at an instant is
the rate of its current local hour of week times its affinity (own rate / global rate), so it
is computed in the claim statement and never goes stale.
"""

from __future__ import annotations

import logging

from include.campaigns.db import fetch_one

log = logging.getLogger(__name__)

HOUR_PRIOR_STRENGTH = 50.0  # pseudo-calls: an hour needs this much data to move far from the global rate
MIN_CONTACT_STRENGTH, MAX_CONTACT_STRENGTH = 1.0, 1000.0


def contact_prior_strength(global_rate: float, var_rate: float | None, mean_inv_n: float | None) -> float:
    """Beta-binomial method of moments: m = g(1-g)/tau^2 - 1, where tau^2 is the spread of the
    contacts' true rates (observed variance minus the binomial noise of small samples)."""
    if var_rate is None or mean_inv_n is None or not 0 < global_rate < 1:
        return MAX_CONTACT_STRENGTH
    noise = global_rate * (1 - global_rate) * mean_inv_n
    tau2 = var_rate - noise
    if tau2 <= 0:
        return MAX_CONTACT_STRENGTH  # no detectable difference between contacts: trust the global rate
    return min(max(global_rate * (1 - global_rate) / tau2 - 1, MIN_CONTACT_STRENGTH), MAX_CONTACT_STRENGTH)


def train(conn, lookback_days: int = 90) -> dict:
    """Refit the model from the last ``lookback_days`` of call records."""
    stats = fetch_one(conn, "answer_model_stats", {"lookback_days": lookback_days})
    if not stats["calls"]:
        log.info("No call records in the last %d days; the answer model is unchanged", lookback_days)
        return {"calls": 0}
    global_rate = min(max(stats["answered"] / stats["calls"], 1e-4), 1 - 1e-4)
    contact_k = contact_prior_strength(global_rate, stats["var_rate"], stats["mean_inv_n"])
    with conn.transaction():
        row = fetch_one(
            conn,
            "answer_model_train",
            {
                "lookback_days": lookback_days,
                "global_rate": global_rate,
                "hour_k": HOUR_PRIOR_STRENGTH,
                "contact_k": contact_k,
                "calls": stats["calls"],
            },
        )
    result = {
        "calls": stats["calls"],
        "global_rate": round(global_rate, 4),
        "contact_prior_strength": round(contact_k, 2),
        "contacts_scored": row["contacts_scored"],
    }
    log.info("Answer model trained: %s", result)
    return result
