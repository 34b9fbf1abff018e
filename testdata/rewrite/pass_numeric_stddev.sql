-- tz: Europe/Berlin
SELECT date_trunc('month', ts), region, host, stddev_samp(v) FROM metrics
WHERE ts >= '2023-01-01' AND region = 'eu' GROUP BY 1, 2, 3
