-- dense: ticks_1m
-- Whole hours, and a Dense minute tier, to which the hours' dirty buckets
-- do not fall: the minute level reaches no bucket, so the statement lists
-- no minute buckets (spiral_d has one branch, for hours).
SELECT date_trunc('hour', t), max(price), sum(vol), count(*) FROM ticks
WHERE sym = 7 AND t >= '2025-01-20' AND t < '2025-01-21' GROUP BY 1 ORDER BY 1
