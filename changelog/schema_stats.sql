-- spiral schema, migration 5: SQL functions over spiral.moments
-- (n, m1, m2, m3, m4), the Welford states of stats columns. They compute
-- what package stats computes (see stats/doc.go), so that a query answers
-- from a tier with plain SQL:
--
--   spiral.spiral_stats_merge(s)     aggregate: the merged state, NULL for no
--                                    non-empty input
--   spiral.spiral_stats_count(s)     n
--   spiral.spiral_stats_mean(s)      avg         (NULL for n = 0)
--   spiral.spiral_stats_variance(s)  var_samp    (NULL for n < 2)
--   spiral.spiral_stats_stddev(s)    stddev_samp (NULL for n < 2)
--   spiral.spiral_stats_skewness(s)  population g1 (NULL for n = 0, m2 = 0)
--   spiral.spiral_stats_kurtosis(s)  population excess g2 (likewise)
--
-- The finishers are SQL-standard bodies without a SET clause, so that the
-- planner inlines them, and they run no risk from the caller's search_path:
-- the body is bound when it is created, functions are qualified, and every
-- operator takes operands of its exact types (pg_catalog comes first for an
-- exact match). The transition function is PL/pgSQL, the fastest
-- non-C language for it: a SQL function is executed afresh per row, about
-- 2.5 times as slow; a SET search_path clause would cost 60% more per row,
-- so it follows the same rules as the finishers instead.

-- moments_merge is stats.Moments.Merge: empty states (n = 0) and NULL are
-- the identity; two finite states merge with the pairwise formulas of
-- stats.mergePair (Chan, Golub and LeVeque; Pébay), operation for
-- operation. PostgreSQL raises an error where float8 arithmetic over- or
-- underflows, where Go gives ±Inf or 0; the formulas cannot do so while
-- d = m1_b − m1_a and the central sums m_k lie in {0} ∪ [1e-70^k, ~1e58^k]
-- (the bounds below, which hold for any positive counts). Other states, and
-- non-finite means, go to moments_merge_slow.
CREATE FUNCTION spiral.moments_merge(a spiral.moments, b spiral.moments) RETURNS spiral.moments
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
  na float8;
  nb float8;
  n float8;
  d float8;
  d2 float8;
  nab float8;
BEGIN
  IF b.n IS NULL OR b.n = 0 THEN
    RETURN a;
  END IF;
  IF a.n IS NULL OR a.n = 0 THEN
    RETURN b;
  END IF;
  IF pg_catalog.abs(a.m1) < '8e307' AND pg_catalog.abs(b.m1) < '8e307' THEN
    d := b.m1 - a.m1;
    IF (pg_catalog.abs(d) BETWEEN '1e-70' AND '1e58' OR d = '0')
        AND (pg_catalog.abs(a.m2) BETWEEN '1e-140' AND '1e116' OR a.m2 = '0')
        AND (pg_catalog.abs(b.m2) BETWEEN '1e-140' AND '1e116' OR b.m2 = '0')
        AND (pg_catalog.abs(a.m3) BETWEEN '1e-210' AND '1e174' OR a.m3 = '0')
        AND (pg_catalog.abs(b.m3) BETWEEN '1e-210' AND '1e174' OR b.m3 = '0')
        AND (pg_catalog.abs(a.m4) BETWEEN '1e-280' AND '1e232' OR a.m4 = '0')
        AND (pg_catalog.abs(b.m4) BETWEEN '1e-280' AND '1e232' OR b.m4 = '0') THEN
      na := a.n;
      nb := b.n;
      n := na + nb;
      d2 := d * d;
      nab := na * nb;
      RETURN ROW(a.n + b.n, a.m1 + d * (nb / n),
        a.m2 + b.m2 + d2 * nab / n,
        a.m3 + b.m3 + d * d2 * nab * (na - nb) / (n * n)
          + '3'::float8 * d * (na * b.m2 - nb * a.m2) / n,
        a.m4 + b.m4 + d2 * d2 * nab * (na * na - nab + nb * nb) / (n * n * n)
          + '6'::float8 * d2 * (na * na * b.m2 + nb * nb * a.m2) / (n * n)
          + '4'::float8 * d * (na * b.m3 - nb * a.m3) / n)::spiral.moments;
    END IF;
  END IF;
  RETURN spiral.moments_merge_slow(a, b);
END $$;

-- moments_merge_slow merges two non-empty states that moments_merge leaves
-- to it. A non-finite mean makes stats.mergeNonFinite's state: m1 is the
-- IEEE sum of the non-finite means (what Σx/n is), m2..m4 are NaN.
-- Otherwise it evaluates the pairwise formulas in numeric, which neither
-- overflows nor underflows (the inputs' text forms are exact float8
-- round-trips; 1/n carries 60 significant digits), and rounds the result to
-- float8: to ±Infinity beyond the largest float8, to 0 below the smallest,
-- as IEEE arithmetic in stats does. Central sums that are NaN or infinite
-- (Go's overflowed states) follow IEEE rules in numeric too.
CREATE FUNCTION spiral.moments_merge_slow(a spiral.moments, b spiral.moments) RETURNS spiral.moments
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog SET extra_float_digits = 3 AS $$
DECLARE
  na numeric := a.n;
  nb numeric := b.n;
  inv numeric := round(1::numeric, 80) / (a.n + b.n);
  am numeric[] := ARRAY[a.m1::text, a.m2::text, a.m3::text, a.m4::text]::numeric[];
  bm numeric[] := ARRAY[b.m1::text, b.m2::text, b.m3::text, b.m4::text]::numeric[];
  d numeric;
  d2 numeric;
  nab numeric;
  r numeric[];
  f float8[] := '{}';
BEGIN
  IF NOT (abs(a.m1) < 'Infinity' AND abs(b.m1) < 'Infinity') THEN
    RETURN ROW(a.n + b.n,
      CASE WHEN abs(a.m1) < 'Infinity' THEN 0 ELSE a.m1 END + CASE WHEN abs(b.m1) < 'Infinity' THEN 0 ELSE b.m1 END,
      'NaN', 'NaN', 'NaN')::spiral.moments;
  END IF;
  d := bm[1] - am[1];
  d2 := d * d;
  nab := na * nb;
  r := ARRAY[am[1] + d * nb * inv,
    am[2] + bm[2] + d2 * nab * inv,
    am[3] + bm[3] + d * d2 * nab * (na - nb) * inv * inv + 3 * d * (na * bm[2] - nb * am[2]) * inv,
    am[4] + bm[4] + d2 * d2 * nab * (na * na - nab + nb * nb) * inv * inv * inv
      + 6 * d2 * (na * na * bm[2] + nb * nb * am[2]) * inv * inv + 4 * d * (na * bm[3] - nb * am[3]) * inv];
  FOR i IN 1..4 LOOP
    -- From just below 2^1024 - 2^970 a decimal rounds to infinity, up to
    -- just above 2^-1075 to zero; the cast would raise an error for both.
    -- NaN sorts above every number in numeric.
    f[i] := CASE WHEN r[i] = 'NaN' THEN 'NaN'::float8
                 WHEN abs(r[i]) >= 1.797693134862315807937e308 THEN sign(r[i])::float8 * 'Infinity'
                 WHEN abs(r[i]) <= 2.4703282292062328e-324 THEN 0
                 ELSE r[i]::float8 END;
  END LOOP;
  IF NOT abs(f[1]) < 'Infinity' THEN -- stats' settle; a convex mean does not get here
    f[2] := 'NaN';
    f[3] := 'NaN';
    f[4] := 'NaN';
  END IF;
  RETURN ROW(a.n + b.n, f[1], f[2], f[3], f[4])::spiral.moments;
END $$;

-- spiral_stats_merge merges states as stats.Moments.Merge folds them, in
-- input order (parallel workers' partial states merge the same way).
-- NULL and empty states contribute nothing; with no other input the result
-- is NULL, as for sum.
CREATE AGGREGATE spiral.spiral_stats_merge(spiral.moments) (
  SFUNC = spiral.moments_merge,
  STYPE = spiral.moments,
  COMBINEFUNC = spiral.moments_merge,
  PARALLEL = SAFE
);

-- The finishers are stats' Avg, VarSamp, StddevSamp, Skewness and Kurtosis;
-- a NULL state gives NULL. Skewness and kurtosis divide by m2 before they
-- divide by its root or square, so no intermediate leaves float8's range,
-- where stats forms m2^(3/2) and m2² first: the same value up to rounding,
-- except where those leave the range (m2 beyond about 1e±205 for the
-- skewness, 1e±154 for the kurtosis), which makes stats return 0, −3, ±Inf
-- or NaN while these stay right. An overflowed m3 (m4) makes the skewness
-- (kurtosis) NaN, as in stats.
CREATE FUNCTION spiral.spiral_stats_count(s spiral.moments) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN (s).n;

CREATE FUNCTION spiral.spiral_stats_mean(s spiral.moments) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (s).n <> 0 THEN (s).m1 END;

CREATE FUNCTION spiral.spiral_stats_variance(s spiral.moments) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (s).n > 1 THEN (s).m2 / ((s).n - 1)::float8 END;

CREATE FUNCTION spiral.spiral_stats_stddev(s spiral.moments) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (s).n > 1 THEN pg_catalog.sqrt((s).m2 / ((s).n - 1)::float8) END;

CREATE FUNCTION spiral.spiral_stats_skewness(s spiral.moments) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (s).n <> 0 AND (s).m2 <> '0' THEN
  CASE WHEN pg_catalog.abs((s).m3) < 'Infinity'
    THEN pg_catalog.sqrt((s).n::float8) * ((s).m3 / (s).m2) / pg_catalog.sqrt((s).m2)
    ELSE 'NaN' END
  END;

CREATE FUNCTION spiral.spiral_stats_kurtosis(s spiral.moments) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN (s).n <> 0 AND (s).m2 <> '0' THEN
  CASE WHEN pg_catalog.abs((s).m4) < 'Infinity'
    THEN (s).n::float8 * ((s).m4 / (s).m2) / (s).m2 - '3'
    ELSE 'NaN' END
  END;

GRANT EXECUTE ON FUNCTION spiral.moments_merge(spiral.moments, spiral.moments),
  spiral.moments_merge_slow(spiral.moments, spiral.moments),
  spiral.spiral_stats_merge(spiral.moments),
  spiral.spiral_stats_count(spiral.moments), spiral.spiral_stats_mean(spiral.moments),
  spiral.spiral_stats_variance(spiral.moments), spiral.spiral_stats_stddev(spiral.moments),
  spiral.spiral_stats_skewness(spiral.moments), spiral.spiral_stats_kurtosis(spiral.moments)
  TO PUBLIC;
