/* a block comment that is not magic */
CREATE TABLE t (
  t timestamptz NOT NULL, -- the time
  a smallint,           --Spiral:max
  b float8,             --   SPIRAL :  Max, sum,max , OHLC
  c decimal             -- Spiral: tdigest
    NOT NULL,
  d int8                -- spiral is a nice name; this is not magic
) WITH (spiral.frames = '1h');
