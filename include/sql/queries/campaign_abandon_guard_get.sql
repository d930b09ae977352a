-- Whether the campaign's abandonment guard holds its top-up, and when its rate was last measured.
SELECT abandon_guard_since, abandon_rate_checked_at FROM campaigns WHERE id = %(campaign_id)s
