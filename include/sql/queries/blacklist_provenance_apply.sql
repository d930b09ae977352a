-- Record where the extract's numbers came from, and its date, on their entries in the import's
-- scope. An entry keeps the provenance of the latest extract that listed it: an older one never
-- takes it back.
WITH updated AS (
    UPDATE blacklist b
    SET source = %(source)s, source_as_of = %(as_of)s
    FROM blacklist_provenance p
    WHERE b.phone = p.phone
      AND coalesce(b.campaign_id, 0) = coalesce(%(campaign_id)s::bigint, 0)
      AND (b.source_as_of IS NULL OR b.source_as_of < %(as_of)s::date)
    RETURNING b.id
)
SELECT count(*) AS sourced FROM updated
