CREATE TABLE ticks (
  t timestamptz NOT NULL,
  symbol_id int NOT NULL,
  price double precision, -- Spiral: ohlcv, stats, sketch
  vol int                 -- Spiral: sum
) WITH (spiral.frames = '1m,1h,1d,1mon', spiral.tenant = 'symbol_id');
