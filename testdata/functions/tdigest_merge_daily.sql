SELECT date_trunc('day', t) AS day, sym,
       spiral_tdigest_quantile(spiral_tdigest_merge(price_tdigest), 0.99) AS p99,
       spiral_sketch_quantile(spiral_sketch_merge(price_sketch), ARRAY[0.5, 0.95]),
       count(*)
FROM ticks_1h WHERE t >= '2024-01-01' AND sym IN (1, 2) GROUP BY 1, 2 ORDER BY 1, 2
