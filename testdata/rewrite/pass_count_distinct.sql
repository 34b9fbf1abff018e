SELECT date_trunc('hour', t), count(DISTINCT sym) FROM ticks GROUP BY 1
