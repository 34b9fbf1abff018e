SELECT sym FROM ticks_1h WHERE spiral_tdigest_quantile(price_tdigest, 0.5) > 3
