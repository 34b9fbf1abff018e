SELECT spiral_sketch_quantile(price_tdigest, 0.5) FROM ticks_1h
