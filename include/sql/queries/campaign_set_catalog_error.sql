-- Why a campaign has no DAG (NULL: it has one), written by the dag-processor's parse only when it
-- changed. updated_at is left alone: it records operators' edits, not the catalog's verdicts.
UPDATE campaigns c
SET catalog_error = v.error,
    catalog_error_at = CASE WHEN v.error IS NULL THEN NULL ELSE now() END
FROM unnest(%(ids)s::bigint[], %(errors)s::text[]) AS v(id, error)
WHERE c.id = v.id AND c.catalog_error IS DISTINCT FROM v.error
