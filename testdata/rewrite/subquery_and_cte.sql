WITH daily AS (SELECT t::date AS d, count(*) AS n FROM ticks WHERE t > '2024-01-01' GROUP BY 1)
SELECT d, n, (SELECT max(vol) FROM ticks WHERE sym = 7) AS top FROM daily WHERE n > 10 ORDER BY d
