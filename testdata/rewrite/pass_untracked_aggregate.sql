SELECT sym, sum(price), percentile_cont(0.5) WITHIN GROUP (ORDER BY price) FROM ticks GROUP BY sym
