SELECT date_trunc('hour', t), count(*) FROM ticks WHERE price > 10 GROUP BY 1
