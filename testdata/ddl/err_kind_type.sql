CREATE TABLE t (
  t timestamptz NOT NULL,
  label text -- Spiral: max
) WITH (spiral.frames = '1m');
