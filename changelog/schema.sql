-- spiral schema, migration 1. Applied by changelog.Migrate as one transaction.

CREATE SCHEMA IF NOT EXISTS spiral;
GRANT USAGE ON SCHEMA spiral TO PUBLIC;

-- A Welford state: count, mean and the 2nd to 4th central sums (package stats).
CREATE TYPE spiral.moments AS (n bigint, m1 float8, m2 float8, m3 float8, m4 float8);

-- One row per tracked base table (parent_view = 'BASE', frame_seconds = 0)
-- and one per tier.
CREATE TABLE spiral.metadata (
  view_schema   text   NOT NULL,
  view_name     text   NOT NULL,
  parent_view   text   NOT NULL,
  frame_seconds bigint NOT NULL,
  scope_columns text[] NOT NULL,
  frame         text,
  calendar_unit text,
  time_column   text   NOT NULL,
  timezone      text   NOT NULL DEFAULT 'UTC',
  columns       jsonb  NOT NULL DEFAULT '[]',
  base_oid      oid    NOT NULL,
  PRIMARY KEY (view_schema, view_name),
  CHECK ((parent_view = 'BASE') = (frame_seconds = 0))
);
CREATE INDEX metadata_base_oid ON spiral.metadata (base_oid);

-- Anyone may register tables they own; nobody may register, change or
-- forget someone else's: a forged tier would make the proxy answer other
-- users' queries from it.
ALTER TABLE spiral.metadata ENABLE ROW LEVEL SECURITY;
GRANT SELECT, INSERT, UPDATE, DELETE ON spiral.metadata TO PUBLIC;
CREATE FUNCTION spiral.owns(base oid, sch text, rel text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT EXISTS (SELECT FROM pg_class WHERE oid = base AND pg_has_role(current_user, relowner, 'USAGE'))
     AND EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = sch AND c.relname = rel AND pg_has_role(current_user, c.relowner, 'USAGE'))
$$;
CREATE POLICY metadata_read ON spiral.metadata FOR SELECT USING (true);
CREATE POLICY metadata_insert ON spiral.metadata FOR INSERT WITH CHECK (spiral.owns(base_oid, view_schema, view_name));
CREATE POLICY metadata_update ON spiral.metadata FOR UPDATE USING (spiral.owns(base_oid, view_schema, view_name));
CREATE POLICY metadata_delete ON spiral.metadata FOR DELETE USING (spiral.owns(base_oid, view_schema, view_name));

-- Dirty marks: [t_start, t_end) in epoch seconds of one tenant (scope, a
-- jsonb object of the scope columns; NULL = every tenant) of one base table.
-- Rows are inserted only by the triggers (and backfill scheduling), and
-- removed only by the refresh that recomputed them, which runs under one
-- snapshot and so removes exactly the marks whose data it saw. The only
-- update is that refresh trimming the start of a range it recomputed in
-- part; writers never update marks, so no write is ever folded into an
-- older mark.
CREATE TABLE spiral.marks (
  id         bigserial   PRIMARY KEY,
  base_oid   oid         NOT NULL,
  t_start    bigint      NOT NULL,
  t_end      bigint      NOT NULL,
  scope      jsonb,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  CHECK (t_start < t_end)
);
CREATE INDEX marks_base_t ON spiral.marks (base_oid, t_start);
GRANT SELECT ON spiral.marks TO PUBLIC;

CREATE VIEW spiral.changelog AS
SELECT b.view_schema AS base_schema, b.view_name AS base_view, m.t_start, m.t_end, m.scope AS scope_values
FROM spiral.marks m JOIN spiral.metadata b ON b.base_oid = m.base_oid AND b.parent_view = 'BASE';
GRANT SELECT ON spiral.changelog TO PUBLIC;

-- The finest tier's bucket of a base, as SQL: b_start and b_end in epoch
-- seconds over the time column, and b_next, the end of the bucket that
-- starts at the epoch-seconds column lo.
CREATE FUNCTION spiral.bucket_sql(base oid, OUT b_start text, OUT b_end text, OUT b_next text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, spiral AS $$
DECLARE
  r record;
  tcol text;
BEGIN
  SELECT f.frame_seconds, f.calendar_unit, f.timezone, f.time_column INTO r
  FROM spiral.metadata f WHERE f.base_oid = base AND f.parent_view <> 'BASE'
  ORDER BY f.frame_seconds LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  tcol := quote_ident(r.time_column);
  IF r.calendar_unit IS NULL THEN
    b_start := format('(floor(extract(epoch FROM %s) / %s)::bigint * %s)', tcol, r.frame_seconds, r.frame_seconds);
    b_end := format('(%s + %s)', b_start, r.frame_seconds);
    b_next := format('(lo + %s)', r.frame_seconds);
  ELSE
    b_start := format('extract(epoch FROM date_trunc(%L, %s, %L))::bigint', r.calendar_unit, tcol, r.timezone);
    b_end := format('extract(epoch FROM ((date_trunc(%L, %s, %L) AT TIME ZONE %L) + %L::interval) AT TIME ZONE %L)::bigint',
                    r.calendar_unit, tcol, r.timezone, r.timezone, '1 ' || r.calendar_unit, r.timezone);
    b_next := format('extract(epoch FROM (to_timestamp(lo) AT TIME ZONE %L + %L::interval) AT TIME ZONE %L)::bigint',
                     r.timezone, '1 ' || r.calendar_unit, r.timezone);
  END IF;
END $$;

-- Statement-level trigger body: one mark per distinct (tenant, finest
-- bucket) the statement touched; a tenant with more than 64 buckets in one
-- statement gets one mark spanning them (bulk loads). Rows are reduced to
-- distinct (tenant columns, bucket) before any jsonb is built.
CREATE FUNCTION spiral.mark_dirty() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, spiral AS $$
DECLARE
  scope_cols text[];
  cols text := '';
  scope_expr text := $e$'{}'::jsonb$e$;
  b record;
  src text;
BEGIN
  SELECT scope_columns INTO scope_cols FROM spiral.metadata WHERE base_oid = TG_RELID AND parent_view = 'BASE';
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT * INTO b FROM spiral.bucket_sql(TG_RELID);
  IF b.b_start IS NULL THEN
    RETURN NULL;
  END IF;
  IF cardinality(scope_cols) > 0 THEN
    SELECT string_agg(quote_ident(c), ', ') || ', ',
           'jsonb_build_object(' || string_agg(format('%L, %I', c, c), ', ') || ')'
      INTO cols, scope_expr
    FROM unnest(scope_cols) AS c;
  END IF;
  src := CASE TG_OP
    WHEN 'INSERT' THEN 'spiral_new'
    WHEN 'DELETE' THEN 'spiral_old'
    ELSE '(SELECT * FROM spiral_new UNION ALL SELECT * FROM spiral_old)' END;
  EXECUTE format($q$
    WITH r AS (SELECT DISTINCT %1$s %2$s AS lo FROM %4$s AS x),
         d AS (SELECT %3$s AS s, lo, %6$s AS hi FROM r),
         c AS (SELECT s, count(*) AS n, min(lo) AS lo, max(hi) AS hi FROM d GROUP BY s)
    INSERT INTO spiral.marks (base_oid, t_start, t_end, scope)
    SELECT %5$s, d.lo, d.hi, d.s FROM d JOIN c ON c.s = d.s WHERE c.n <= 64
    UNION ALL
    SELECT %5$s, c.lo, c.hi, c.s FROM c WHERE c.n > 64$q$,
    cols, b.b_start, scope_expr, src, TG_RELID, b.b_next);
  RETURN NULL;
END $$;

-- Marks every bucket of a base table dirty for every tenant: one range over
-- the data's whole time span. Used when tiers are added; the refresh works
-- through it a slice at a time.
CREATE FUNCTION spiral.schedule_backfill(base regclass) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, spiral AS $$
DECLARE
  tcol text;
  b record;
  lo bigint;
  hi bigint;
BEGIN
  SELECT quote_ident(time_column) INTO tcol FROM spiral.metadata WHERE base_oid = base AND parent_view = 'BASE';
  SELECT * INTO b FROM spiral.bucket_sql(base);
  IF tcol IS NULL OR b.b_start IS NULL THEN
    RETURN;
  END IF;
  EXECUTE format('SELECT (SELECT %2$s FROM (SELECT min(%1$s) AS %1$s FROM %3$s) s), (SELECT %4$s FROM (SELECT max(%1$s) AS %1$s FROM %3$s) s)',
                 tcol, b.b_start, base, b.b_end) INTO lo, hi;
  IF lo IS NOT NULL THEN
    INSERT INTO spiral.marks (base_oid, t_start, t_end, scope) VALUES (base, lo, hi, NULL);
  END IF;
END $$;

-- TRUNCATE empties the tiers at once: it holds ACCESS EXCLUSIVE on the base,
-- so no other writer's marks can be pending, and every earlier mark refers
-- to rows that are gone.
CREATE FUNCTION spiral.on_truncate() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, spiral AS $$
DECLARE
  t record;
BEGIN
  FOR t IN SELECT view_schema, view_name FROM spiral.metadata
           WHERE base_oid = TG_RELID AND parent_view <> 'BASE' LOOP
    EXECUTE format('TRUNCATE %I.%I', t.view_schema, t.view_name);
  END LOOP;
  DELETE FROM spiral.marks WHERE base_oid = TG_RELID;
  RETURN NULL;
END $$;

-- DROP TABLE of a tracked base drops its tiers and forgets it; dropping a
-- tier forgets the tier.
CREATE FUNCTION spiral.on_drop() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, spiral AS $$
DECLARE
  o record;
  t record;
BEGIN
  FOR o IN SELECT * FROM pg_event_trigger_dropped_objects() WHERE object_type = 'table' LOOP
    FOR t IN SELECT view_schema, view_name FROM spiral.metadata
             WHERE base_oid = o.objid AND parent_view <> 'BASE' LOOP
      EXECUTE format('DROP TABLE IF EXISTS %I.%I', t.view_schema, t.view_name);
    END LOOP;
    DELETE FROM spiral.metadata WHERE base_oid = o.objid;
    DELETE FROM spiral.marks WHERE base_oid = o.objid;
    DELETE FROM spiral.metadata
    WHERE view_schema = o.schema_name AND view_name = o.object_name AND parent_view <> 'BASE';
  END LOOP;
END $$;
CREATE EVENT TRIGGER spiral_on_drop ON sql_drop WHEN TAG IN ('DROP TABLE', 'DROP SCHEMA', 'DROP OWNED')
  EXECUTE FUNCTION spiral.on_drop();

CREATE VIEW spiral.status AS
SELECT b.view_schema AS base_schema,
       b.view_name AS base_view,
       (SELECT count(*) FROM spiral.metadata t WHERE t.base_oid = b.base_oid AND t.parent_view <> 'BASE') AS tier_count,
       count(m.id) AS dirty_entries,
       count(DISTINCT coalesce(m.scope::text, '*')) AS dirty_scopes,
       coalesce(sum(m.t_end - m.t_start), 0)::bigint AS dirty_seconds,
       to_timestamp(min(m.t_start)) AS oldest_dirty_ts,
       to_timestamp(max(m.t_end)) AS newest_dirty_ts,
       clock_timestamp() - min(m.created_at) AS lag
FROM spiral.metadata b LEFT JOIN spiral.marks m ON m.base_oid = b.base_oid
WHERE b.parent_view = 'BASE'
GROUP BY b.view_schema, b.view_name, b.base_oid;
GRANT SELECT ON spiral.status TO PUBLIC;

CREATE VIEW spiral.scope_status AS
SELECT b.view_schema AS base_schema,
       b.view_name AS base_view,
       m.scope AS scope_values,
       count(*) AS dirty_entries,
       sum(m.t_end - m.t_start)::bigint AS dirty_seconds,
       to_timestamp(min(m.t_start)) AS oldest_dirty_ts,
       clock_timestamp() - min(m.created_at) AS lag
FROM spiral.marks m JOIN spiral.metadata b ON b.base_oid = m.base_oid AND b.parent_view = 'BASE'
GROUP BY b.view_schema, b.view_name, m.scope;
GRANT SELECT ON spiral.scope_status TO PUBLIC;

-- spiral_lag(table): how far the tiers trail the table (the age of its
-- oldest dirty mark); NULL when fully clean.
CREATE FUNCTION spiral.spiral_lag(tbl regclass) RETURNS interval
LANGUAGE sql STABLE SET search_path = pg_catalog, spiral AS $$
  SELECT clock_timestamp() - min(created_at) FROM spiral.marks WHERE base_oid = tbl
$$;

-- The outcome of the last spiral_refresh of each backend, written by the
-- daemon just before the statement that reads it runs (prepared statements
-- re-executed from a client's cache read it again).
CREATE TABLE spiral.refresh_results (
  backend_pid int PRIMARY KEY,
  buckets     bigint,
  error_code  text,
  error_text  text,
  error_hint  text
);
GRANT SELECT ON spiral.refresh_results TO PUBLIC;

CREATE FUNCTION spiral.refresh_result() RETURNS bigint
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, spiral AS $$
DECLARE
  r record;
BEGIN
  SELECT * INTO r FROM spiral.refresh_results WHERE backend_pid = pg_backend_pid();
  IF NOT FOUND THEN
    RAISE EXCEPTION 'spiral_refresh has no result for this session' USING ERRCODE = 'XX000';
  END IF;
  IF r.error_code IS NOT NULL THEN
    RAISE EXCEPTION '%', r.error_text USING ERRCODE = r.error_code, HINT = coalesce(r.error_hint, '');
  END IF;
  RETURN r.buckets;
END $$;

-- Through the proxy, spiral_refresh(table [, scope]) recomputes dirty buckets
-- and returns how many. It needs the daemon's refresh engine, so a direct
-- connection gets a clear error instead.
CREATE FUNCTION spiral.spiral_refresh(tbl text, scope text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'spiral_refresh runs in the spiral daemon, not in PostgreSQL'
    USING ERRCODE = '0A000',
          HINT = 'Run it through the spiral proxy, or use the command `spiral refresh TABLE`.';
END $$;

-- Unqualified spiral_lag(...) and spiral_refresh(...) resolve through the
-- usual search_path when public exists.
DO $$
BEGIN
  IF EXISTS (SELECT FROM pg_namespace WHERE nspname = 'public') THEN
    CREATE FUNCTION public.spiral_lag(tbl regclass) RETURNS interval
      LANGUAGE sql STABLE AS 'SELECT spiral.spiral_lag(tbl)';
    CREATE FUNCTION public.spiral_refresh(tbl text, scope text DEFAULT NULL) RETURNS bigint
      LANGUAGE sql AS 'SELECT spiral.spiral_refresh(tbl, scope)';
  END IF;
END $$;
