SELECT date_trunc('day', t), percentile_cont(0.5) WITHIN GROUP (ORDER BY price) FROM ticks GROUP BY 1
