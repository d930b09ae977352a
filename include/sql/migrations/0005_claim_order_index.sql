-- The claim order inside one time zone, as one ascending key: (-priority, -affinity, attempts, id).
-- At one instant the answer model's hour rate is a constant per zone, so this is the claim's
-- order within a zone (dial_tasks_claim_walk.sql), and a row comparison against the last key
-- read resumes a zone's walk exactly where it stopped: no page ever re-reads the ones before it.
CREATE INDEX contacts_claim_order_idx
    ON contacts (campaign_id, (timezones[1]), (-priority), (-coalesce(answer_affinity, 1)), attempts, id)
    WHERE status IN ('pending', 'failed');
-- Its predecessor served an order without the score and no statement uses it any more; each
-- claim writes every index on contacts again, so one fewer is a faster claim.
DROP INDEX contacts_dispatchable_idx;
