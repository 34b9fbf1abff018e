SELECT spiral_tdigest_merge(price_tdigest) FILTER (WHERE sym = 1) FROM ticks_1h
