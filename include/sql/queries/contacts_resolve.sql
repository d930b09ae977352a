-- Store what phones.normalize and phones.resolve worked out, for a chunk of contacts at once: the
-- number in E.164, its zones, jurisdiction and window keys. A contact whose E.164 number another
-- contact of the campaign already holds is invalid (duplicate_phone) and keeps the number as it
-- was written: the contact holding it is the one dialed. (The chunk has no duplicates itself.)
WITH resolved AS (
    SELECT * FROM unnest(%(ids)s::bigint[], %(phones)s::text[], %(timezones)s::text[],
                         %(jurisdictions)s::text[], %(keys)s::text[]) AS r(id, phone, timezones, jurisdiction, keys)
), clash AS (
    SELECT r.id
    FROM resolved r JOIN contacts c ON c.id = r.id
    WHERE c.phone <> r.phone
      AND EXISTS (SELECT 1 FROM contacts o WHERE o.campaign_id = c.campaign_id AND o.phone = r.phone)
), duplicates AS (
    UPDATE contacts c
    SET status = 'invalid', status_reason = 'duplicate_phone', window_keys = '{}'
    FROM clash d
    WHERE c.id = d.id AND c.status = 'pending'
    RETURNING c.id
), updated AS (
    UPDATE contacts c
    SET phone = r.phone,
        timezones = string_to_array(r.timezones, ','),
        jurisdiction = r.jurisdiction,
        window_keys = string_to_array(r.keys, ',')
    FROM resolved r
    WHERE c.id = r.id AND NOT EXISTS (SELECT 1 FROM clash d WHERE d.id = r.id)
    RETURNING c.campaign_id, c.window_keys
), keys AS (
    INSERT INTO campaign_window_keys (campaign_id, window_key)
    SELECT DISTINCT campaign_id, unnest(window_keys) FROM updated
    ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM duplicates) AS duplicates
