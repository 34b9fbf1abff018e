-- approximate_percentiles
SELECT date_trunc('day', t) AS day, sym, percentile_cont(0.99) WITHIN GROUP (ORDER BY price) AS p99,
       percentile_cont(ARRAY[0.5, 0.9]) WITHIN GROUP (ORDER BY price), count(*)
FROM ticks WHERE t >= '2024-01-01' AND t < '2024-02-01' GROUP BY 1, 2 ORDER BY 1, 2
