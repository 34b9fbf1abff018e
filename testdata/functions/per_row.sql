SELECT t, spiral_sketch_quantile(price_sketch, $1), spiral_tdigest_cdf(h.price_tdigest, 42), spiral_tdigest_merge(price_tdigest) AS m
FROM public.ticks_1m h WHERE sym = 3 ORDER BY t LIMIT 10
