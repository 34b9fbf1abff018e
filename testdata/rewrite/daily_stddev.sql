SELECT date_trunc('day', t), stddev(price), var_pop(price) FROM public.ticks AS x
WHERE x.t BETWEEN now() - interval '30 days' AND now() GROUP BY 1 ORDER BY 1
