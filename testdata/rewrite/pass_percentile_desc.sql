-- approximate_percentiles
SELECT sym, percentile_cont(0.5) WITHIN GROUP (ORDER BY price DESC) FROM ticks GROUP BY 1
