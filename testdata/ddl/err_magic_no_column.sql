CREATE TABLE t (
  t timestamptz NOT NULL,
  -- Spiral: sum
  v int
) WITH (spiral.frames = '1m');
