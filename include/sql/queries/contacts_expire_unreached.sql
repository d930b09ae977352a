-- The run is over: whoever was not reached is counted as expired, and open dial tasks with them.
WITH closed_tasks AS (
    UPDATE dial_tasks t SET status = 'expired', completed_at = now()
    WHERE t.campaign_id = %(campaign_id)s AND t.status IN ('claimed', 'sent')
    RETURNING t.contact_id
)
UPDATE contacts c
SET status = 'expired', status_reason = 'campaign_ended'
WHERE c.campaign_id = %(campaign_id)s AND c.status IN ('pending', 'failed', 'in_flight')
