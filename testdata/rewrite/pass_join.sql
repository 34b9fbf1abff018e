SELECT s.name, count(*) FROM ticks t JOIN symbols s ON s.id = t.sym GROUP BY 1
