-- approximate_percentiles
SELECT sym, percentile_cont(0.5) WITHIN GROUP (ORDER BY vol) FROM ticks GROUP BY 1
