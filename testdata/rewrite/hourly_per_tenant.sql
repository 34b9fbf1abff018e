SELECT date_trunc('hour', t) AS h, sym, max(price), sum(vol), avg(price)
FROM ticks WHERE t >= '2024-01-01' AND t < '2024-01-08' GROUP BY 1, 2 ORDER BY 1, 2
