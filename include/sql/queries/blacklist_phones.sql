-- Every blacklist row's number, read in chunks through a server-side cursor.
SELECT id, phone FROM blacklist
