-- spiral schema, migration 4: the argument checks of the sketch functions.
--
-- Through the proxy, spiral_sketch_quantile(s, q), spiral_tdigest_quantile
-- and spiral_tdigest_cdf send their states packed into one column, which
-- the proxy finishes in Go. The argument travels in front of the states,
-- packed by these functions, so that PostgreSQL itself raises the error for
-- a bad q (the same SQLSTATE and message as percentile_cont) and the
-- transaction fails as for any failed statement. Format (big-endian):
--   0x01 float8                                   one q or x
--   0x02 int4 n, then per element 0x00 (NULL) or 0x01 float8
CREATE OR REPLACE FUNCTION spiral.quantile_arg(q float8) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF NOT (q >= 0 AND q <= 1) THEN
    RAISE EXCEPTION 'percentile value % is not between 0 and 1', q USING ERRCODE = '22003';
  END IF;
  RETURN pg_catalog.decode('01', 'hex') || pg_catalog.float8send(q);
END $$;

CREATE OR REPLACE FUNCTION spiral.quantile_arg(q float8[]) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
DECLARE
  out bytea := pg_catalog.decode('02', 'hex') || pg_catalog.int4send(pg_catalog.cardinality(q));
  x float8;
BEGIN
  IF pg_catalog.array_ndims(q) > 1 THEN
    RAISE EXCEPTION 'spiral: quantile arrays must have one dimension' USING ERRCODE = '0A000';
  END IF;
  FOREACH x IN ARRAY q LOOP
    IF x IS NULL THEN
      out := out || pg_catalog.decode('00', 'hex');
    ELSIF NOT (x >= 0 AND x <= 1) THEN
      RAISE EXCEPTION 'percentile value % is not between 0 and 1', x USING ERRCODE = '22003';
    ELSE
      out := out || pg_catalog.decode('01', 'hex') || pg_catalog.float8send(x);
    END IF;
  END LOOP;
  RETURN out;
END $$;

CREATE OR REPLACE FUNCTION spiral.cdf_arg(x float8) RETURNS bytea
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
  IF x = 'NaN'::float8 THEN
    RAISE EXCEPTION 'spiral_tdigest_cdf: x must not be NaN' USING ERRCODE = '22023';
  END IF;
  RETURN pg_catalog.decode('01', 'hex') || pg_catalog.float8send(x);
END $$;

GRANT EXECUTE ON FUNCTION spiral.quantile_arg(float8), spiral.quantile_arg(float8[]), spiral.cdf_arg(float8) TO PUBLIC;

-- spiral.exact_arg packs an exact answer computed by PostgreSQL (a
-- rewritten approximate percentile that falls back to the raw table):
-- 'E' followed by the argument format above. The proxy returns it as is.
CREATE OR REPLACE FUNCTION spiral.exact_arg(x float8) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS
$$ SELECT pg_catalog.decode('4501', 'hex') || pg_catalog.float8send(x) $$;

CREATE OR REPLACE FUNCTION spiral.exact_arg(xs float8[]) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT pg_catalog.decode('4502', 'hex') || pg_catalog.int4send(pg_catalog.cardinality(xs)) ||
    coalesce((SELECT pg_catalog.string_agg(CASE WHEN x IS NULL THEN pg_catalog.decode('00', 'hex')
      ELSE pg_catalog.decode('01', 'hex') || pg_catalog.float8send(x) END, ''::bytea ORDER BY o)
      FROM pg_catalog.unnest(xs) WITH ORDINALITY AS u(x, o)), ''::bytea)
$$;

GRANT EXECUTE ON FUNCTION spiral.exact_arg(float8), spiral.exact_arg(float8[]) TO PUBLIC;
