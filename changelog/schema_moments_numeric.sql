-- spiral schema, migration 9: spiral.moment_numeric, a variance or standard
-- deviation computed in float8 (from Welford states) rounded the way
-- PostgreSQL rounds the numeric one it computes for integer and numeric
-- columns. PostgreSQL's numeric_stddev_internal divides num = N·Σx² − (Σx)²
-- (= N·M2) by den = N(N−1) (N² for the population forms) at the scale
-- select_div_scale picks, and takes the square root at the same scale:
--   rscale = 16 − 4·qweight, at least 2·dscale (dscale: the inputs' scale)
--   and 0, at most 1000, where qweight is the base-10000 weight of the
--   quotient: weight(num) − weight(den), one less when num's first
--   base-10000 digit is not above den's.
-- For large values that is few digits (the standard deviation of bigints
-- near 1e12 is rounded to an integer), so the float8 answer must be rounded
-- the same way to be the same number. A numerator that is not positive gives
-- 0, as in PostgreSQL; NaN and ±Infinity pass through.
CREATE FUNCTION spiral.moment_numeric(v float8, num float8, den float8, dscale int) RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog AS $$
  SELECT CASE
    WHEN v IS NULL THEN NULL
    WHEN v = 'NaN'::float8 OR abs(v) = 'Infinity'::float8 THEN v::numeric
    WHEN num <= 0 OR den <= 0 THEN 0::numeric
    ELSE round(v::numeric, least(greatest(16 - 4 * (floor(log(num) / 4) - floor(log(den) / 4)
      - CASE WHEN floor(num / 10000::float8 ^ floor(log(num) / 4)) <= floor(den / 10000::float8 ^ floor(log(den) / 4)) THEN 1 ELSE 0 END),
      2 * dscale, 0), 1000)::int)
  END
$$;
GRANT EXECUTE ON FUNCTION spiral.moment_numeric(float8, float8, float8, int) TO PUBLIC;
