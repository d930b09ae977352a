SELECT window_key FROM campaign_window_keys WHERE campaign_id = %(campaign_id)s
