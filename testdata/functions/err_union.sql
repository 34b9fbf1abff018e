SELECT spiral_tdigest_merge(price_tdigest) FROM ticks_1h UNION ALL SELECT spiral_tdigest_merge(price_tdigest) FROM ticks_1d
