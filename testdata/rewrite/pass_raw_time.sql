SELECT t, max(price) FROM ticks GROUP BY t
