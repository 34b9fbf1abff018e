SELECT spiral_tdigest_quantile(price, 0.5) FROM ticks
