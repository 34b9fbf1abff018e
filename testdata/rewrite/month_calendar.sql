SELECT date_trunc('month', t) AS month, sum(vol), count(price) FROM ticks GROUP BY 1 HAVING sum(vol) > 100 ORDER BY 1
