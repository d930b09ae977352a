-- Whether any campaign that may be dialing has its own 24 h cap: its claims count every
-- campaign's dial tasks, so every claim of a number must then take the number's lock
-- (dial_tasks_claim_lock.sql, which asks the same question again for each claim).
SELECT EXISTS (SELECT 1 FROM campaigns k
               WHERE k.status IN ('scheduled', 'active', 'paused')
                 AND jsonb_typeof(k.config -> 'max_attempts_per_24h') = 'number') AS capped
