CREATE TABLE t (
  t timestamptz NOT NULL,
  v int
) WITH (spiral.frames = '1m'); -- Spiral: sum
