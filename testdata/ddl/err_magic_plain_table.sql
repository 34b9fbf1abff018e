CREATE TABLE t (
  t timestamptz NOT NULL,
  v int -- Spiral: sum
);
