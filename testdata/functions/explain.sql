EXPLAIN SELECT spiral_tdigest_quantile(spiral_tdigest_merge(price_tdigest), '{0.1,0.9}') FROM ticks_1h
