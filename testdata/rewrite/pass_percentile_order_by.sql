-- approximate_percentiles
SELECT sym, percentile_cont(0.5) WITHIN GROUP (ORDER BY price) AS med FROM ticks GROUP BY 1 ORDER BY med DESC
