SELECT id, slug, name, campaign_type, status, timezone, schedule, start_at, end_at, owner, tags,
       poke_interval_s, max_in_flight, config
FROM campaigns
WHERE id = %(campaign_id)s
