-- Every window key some campaign's contacts have. The law of each binds every campaign's dial of
-- the number: a number's legal cap is the lowest of the jurisdictions any of its contacts is
-- placed in, and its lockouts after an outcome the longest, whichever campaign claims it.
SELECT DISTINCT window_key FROM campaign_window_keys
