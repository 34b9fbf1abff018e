-- tz: Asia/Kathmandu
SELECT date_trunc('day', t), count(*) FROM ticks GROUP BY 1
