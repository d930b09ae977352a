-- Store what phones.resolve worked out, for a chunk of contacts at once.
WITH resolved AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(timezones)s::text[], %(jurisdictions)s::text[],
                         %(keys)s::text[]) AS r(id, timezones, jurisdiction, keys)
), updated AS (
    UPDATE contacts c
    SET timezones = string_to_array(r.timezones, ','),
        jurisdiction = r.jurisdiction,
        window_keys = string_to_array(r.keys, ',')
    FROM resolved r
    WHERE c.id = r.id
    RETURNING c.campaign_id, c.window_keys
)
INSERT INTO campaign_window_keys (campaign_id, window_key)
SELECT DISTINCT campaign_id, unnest(window_keys) FROM updated
ON CONFLICT DO NOTHING
