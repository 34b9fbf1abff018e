CREATE TABLE lat (
  t timestamptz NOT NULL,
  svc int NOT NULL,
  ms double precision -- Spiral: tdigest
) WITH (spiral.frames = '1m,1h', spiral.tenant = 'svc', spiral.approximate_percentiles = 'on')
