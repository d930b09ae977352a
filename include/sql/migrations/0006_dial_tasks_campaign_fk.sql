-- Every claimed dial task checked its campaign with a FOR KEY SHARE lock on the campaign's row.
-- Concurrent dispatch shards then share that one row lock, which PostgreSQL keeps as a
-- MultiXact, on every row they insert. The check adds nothing: the claim copies campaign_id from
-- the contact row it has just locked, and deleting a campaign still removes its dial tasks
-- through contacts (dial_tasks.contact_id ... ON DELETE CASCADE).
ALTER TABLE dial_tasks DROP CONSTRAINT dial_tasks_campaign_id_fkey;
