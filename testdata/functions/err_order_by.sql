SELECT sym, spiral_tdigest_quantile(spiral_tdigest_merge(price_tdigest), 0.5) AS med FROM ticks_1h GROUP BY sym ORDER BY med
