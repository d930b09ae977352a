-- Every jurisdiction some campaign's contacts are placed in: a number's legal cap is the lowest of
-- the jurisdictions any of its contacts is placed in, whichever campaign claims it.
SELECT DISTINCT split_part(window_key, '|', 2) AS jurisdiction
FROM campaign_window_keys
