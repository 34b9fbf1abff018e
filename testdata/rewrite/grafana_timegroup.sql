SELECT floor(extract(epoch from t)/300)*300 AS "time", sym AS metric, avg(price) AS value
FROM ticks WHERE t BETWEEN '2024-03-01T10:00:00Z' AND '2024-03-01T16:00:00Z' AND sym IN (1, 2, 3)
GROUP BY 1, 2 ORDER BY 1
