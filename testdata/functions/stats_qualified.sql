SELECT sym, spiral_stats_mean(spiral_stats_merge(price_stats)), spiral.spiral_stats_stddev(spiral_stats_merge(price_stats)) AS sd
FROM ticks_1d GROUP BY sym HAVING spiral_stats_count(spiral_stats_merge(price_stats)) > 1
