CREATE TABLE t (
  t timestamptz NOT NULL,
  v int -- Spiral: sum, average
) WITH (spiral.frames = '1m');
