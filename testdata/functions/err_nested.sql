SELECT 2 * spiral_tdigest_quantile(price_tdigest, 0.5) FROM ticks_1h
