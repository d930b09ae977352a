-- The numbers of a registry or vendor extract, kept past the merge (which empties the stage) so
-- that their provenance can be recorded once they are on the blacklist.
CREATE TEMP TABLE blacklist_provenance ON COMMIT DROP AS
SELECT DISTINCT phone FROM blacklist_incoming
