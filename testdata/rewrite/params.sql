SELECT date_trunc('minute', t) AS m, sum(vol) FROM ticks WHERE sym = $1 AND t >= $2 AND t < $3 GROUP BY m ORDER BY m DESC LIMIT $4
