-- tz: Europe/Berlin
SELECT date_trunc('hour', t), count(*), min(price) FROM ticks WHERE t >= '2024-03-30' AND t < '2024-04-01' GROUP BY 1
