SELECT r.s3_uri
FROM campaign_reports r JOIN campaigns c ON c.id = r.campaign_id
WHERE c.slug = %(slug)s AND r.run_id = %(run_id)s
