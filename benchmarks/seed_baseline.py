"""The seed's dispatcher, reimplemented faithfully as the baseline. Never used by the product.

The original design's dispatcher Lambda, per invocation: query up to 100 eligible contacts, check each number
against the Redis cache and, on a miss, against PostgreSQL (one round trip each, per contact),
push the survivors to SQS in sequential batches of 10, and update each sent contact's status with
its own statement. Contact selection is given the same pre-resolved window keys the product uses,
so the baseline is not charged for per-contact time-zone work it would also have done.
"""

from __future__ import annotations

import time

from include.campaigns.blacklist import OPT_OUT_SET
from include.campaigns.campaign import Campaign

CONTACTS_PER_INVOCATION = 100
SQS_BATCH = 10
SEED_LOOP_S = 60  # one invocation per monitoring loop: the seed's effective rate is 100 / 60 s

SELECT_ELIGIBLE = """
SELECT id, phone, attempts, dispatches FROM contacts
WHERE campaign_id = %(campaign_id)s AND status IN ('pending', 'failed')
  AND (next_attempt_at IS NULL OR next_attempt_at <= now()) AND attempts < %(max_attempts)s
  AND window_keys <> '{}' AND window_keys <@ %(open_keys)s::text[]
ORDER BY priority DESC, attempts, id
LIMIT %(limit)s
"""
PG_BLACKLISTED = """
SELECT 1 FROM blacklist WHERE phone = %(phone)s AND (campaign_id IS NULL OR campaign_id = %(campaign_id)s)
  AND (expires_at IS NULL OR expires_at > now()) LIMIT 1
"""
MARK_BLACKLISTED = "UPDATE contacts SET status = 'blacklisted', status_reason = %(reason)s WHERE id = %(id)s"
MARK_SENT = """
UPDATE contacts SET status = 'in_flight', attempts = attempts + 1, dispatches = dispatches + 1,
       last_attempt_at = now() WHERE id = %(id)s
"""


class SeedDispatcher:
    def __init__(self, conn, redis, sqs, queue_url: str, campaign: Campaign, config, open_keys: dict, run_id: str):
        self.conn, self.redis, self.sqs, self.queue_url = conn, redis, sqs, queue_url
        self.campaign, self.config, self.open_keys, self.run_id = campaign, config, open_keys, run_id

    def invoke(self) -> tuple[int, int]:
        """One Lambda invocation; returns (contacts examined, dial tasks sent)."""
        from include.campaigns.sender import dial_task_body

        rows = self.conn.execute(
            SELECT_ELIGIBLE,
            {
                "campaign_id": self.campaign.id,
                "max_attempts": self.config.max_attempts,
                "open_keys": sorted(self.open_keys),
                "limit": CONTACTS_PER_INVOCATION,
            },
        ).fetchall()
        sendable = []
        for contact_id, phone, attempts, dispatches in rows:
            if self.redis.sismember(OPT_OUT_SET, phone):
                self.conn.execute(MARK_BLACKLISTED, {"id": contact_id, "reason": "blacklist_redis"})
                continue
            if self.conn.execute(PG_BLACKLISTED, {"phone": phone, "campaign_id": self.campaign.id}).fetchone():
                self.conn.execute(MARK_BLACKLISTED, {"id": contact_id, "reason": "blacklist"})
                continue
            closes = min(self.open_keys.values())
            sendable.append(
                (
                    contact_id,
                    {
                        "dial_attempt_id": f"c{self.campaign.id}-{contact_id}-{dispatches + 1}",
                        "contact_id": contact_id,
                        "phone": phone,
                        "attempt": attempts + 1,
                        "not_after": closes,
                    },
                )
            )
        sent = 0
        for start in range(0, len(sendable), SQS_BATCH):
            batch = sendable[start : start + SQS_BATCH]
            response = self.sqs.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "MessageBody": dial_task_body(self.campaign, self.config, row, self.run_id)}
                    for i, (_, row) in enumerate(batch)
                ],
            )
            for ok in response.get("Successful", []):
                self.conn.execute(MARK_SENT, {"id": batch[int(ok["Id"])][0]})
                sent += 1
        return len(rows), sent


def run(dispatcher: SeedDispatcher, *, deadline: float) -> dict:
    """Invoke back to back (no 60 s wait) until the campaign is drained or the deadline passes."""
    invocations = examined = sent = 0
    started = time.time()
    while time.time() < deadline:
        seen, n = dispatcher.invoke()
        invocations += 1
        examined += seen
        sent += n
        if seen == 0:
            break
    return {"invocations": invocations, "examined": examined, "sent": sent, "t_start": started, "t_end": time.time()}
