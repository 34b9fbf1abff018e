-- spiral schema, migration 3: a mark function per tracked table.
-- Applied by changelog.Migrate as one transaction.
--
-- spiral.mark_dirty() (migration 1) looks the table up and builds its SQL on
-- every statement, and floors epochs in numeric. Here each registered base
-- table gets its own trigger function, spiral.mark_dirty_<oid>(), with static
-- SQL that PL/pgSQL plans once per session, integer timestamp arithmetic and
-- jsonb built once per mark; it writes the marks mark_dirty writes. A trigger
-- on spiral.metadata regenerates it whenever the table's registration changes
-- (registering, ALTER ... SET (spiral.frames), a dropped tier), points the
-- table's mark triggers at it, and drops it with the table. TriggerDDL's
-- triggers still start out on mark_dirty: registering the table in the same
-- transaction moves them.

-- marker_body returns the body of base's mark function: NULL when base is not
-- registered, a no-op when it has no tier. Its statement writes the marks
-- mark_dirty writes: it reduces the transition rows to distinct (tenant,
-- bucket start) with a hash aggregate over the scope columns and a
-- timestamptz, then to one row per tenant holding its buckets; only the
-- marks are turned into epoch seconds and jsonb.
--
-- A fixed frame of F seconds buckets with date_bin, integer arithmetic on
-- microseconds, against an origin that is a multiple of F seconds from the
-- Unix epoch: buckets are epoch-aligned and exact to the microsecond, as
-- floor(epoch / F) * F in numeric is. The origin is at or before the row,
-- so date_bin's arithmetic never crosses it (old minor releases got that
-- case wrong on bucket boundaries) and never overflows: the first multiple
-- at or after 2000-01-01 for rows from then on, else the first at or after
-- the earliest timestamptz (4714-11-24 BC). The instants before that one
-- (within F of the earliest) have a bucket start that is no timestamptz:
-- they are grouped as -infinity and given their start in epoch seconds.
-- Infinite timestamps fail as they do in mark_dirty. A calendar frame
-- buckets with date_trunc in the table's time zone, as mark_dirty does.
CREATE FUNCTION spiral.marker_body(base oid) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, spiral AS $$
DECLARE
  scope_cols text[];
  f record;
  keys text := '';
  key_refs text := '';
  groups text := '1';
  scope_expr text := $e$'{}'::jsonb$e$;
  bucket text;
  hi_origin bigint;
  lo_origin bigint;
  span_start text;
  span_end text;
  src text;
  stmts text[] := '{}';
BEGIN
  SELECT scope_columns INTO scope_cols FROM spiral.metadata WHERE base_oid = base AND parent_view = 'BASE';
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  SELECT frame_seconds, calendar_unit, timezone, time_column INTO f
  FROM spiral.metadata WHERE base_oid = base AND parent_view <> 'BASE'
  ORDER BY frame_seconds LIMIT 1;
  IF NOT FOUND THEN
    RETURN 'BEGIN RETURN NULL; END';
  END IF;
  IF cardinality(scope_cols) > 0 THEN
    SELECT string_agg(format('x.%I AS k%s, ', c, i), ''),
           string_agg(format('k%s, ', i), ''),
           string_agg(i::text, ', ') || ', ' || (cardinality(scope_cols) + 1),
           'jsonb_build_object(' || string_agg(format('%L, u.k%s', c, i), ', ') || ')'
      INTO keys, key_refs, groups, scope_expr
    FROM unnest(scope_cols) WITH ORDINALITY AS s(c, i);
  END IF;
  IF f.calendar_unit IS NULL THEN
    hi_origin := (946684800 + f.frame_seconds - 1) / f.frame_seconds * f.frame_seconds;
    lo_origin := -210866803200 / f.frame_seconds * f.frame_seconds; -- truncates towards zero: at or after
    bucket := format('CASE WHEN x.%1$I >= to_timestamp(%2$s) AND x.%1$I < ''infinity'' THEN date_bin(%3$L::interval, x.%1$I, to_timestamp(%2$s))'
                     ' WHEN x.%1$I >= to_timestamp(%4$s) AND x.%1$I < to_timestamp(%2$s) THEN date_bin(%3$L::interval, x.%1$I, to_timestamp(%4$s))'
                     ' WHEN isfinite(x.%1$I) THEN ''-infinity''::timestamptz'
                     ' ELSE to_timestamp(floor(extract(epoch FROM x.%1$I))::bigint) END',
                     f.time_column, hi_origin, f.frame_seconds || ' seconds', lo_origin);
    span_start := format('CASE WHEN u.b = ''-infinity'' THEN %s ELSE date_part(''epoch'', u.b)::bigint END',
                         lo_origin - f.frame_seconds);
    span_end := format('CASE WHEN u.n > 64 THEN date_part(''epoch'', u.hi)::bigint WHEN u.b = ''-infinity'' THEN %s'
                       ' ELSE date_part(''epoch'', u.b)::bigint END + %s',
                       lo_origin - f.frame_seconds, f.frame_seconds);
  ELSE
    bucket := format('date_trunc(%L, x.%I, %L)', f.calendar_unit, f.time_column, f.timezone);
    span_start := 'date_part(''epoch'', u.b)::bigint';
    span_end := format('date_part(''epoch'', ((CASE WHEN u.n <= 64 THEN u.b ELSE u.hi END AT TIME ZONE %1$L) + %2$L::interval) AT TIME ZONE %1$L)::bigint',
                       f.timezone, '1 ' || f.calendar_unit);
  END IF;
  FOREACH src IN ARRAY ARRAY['spiral_new', 'spiral_old',
                             '(SELECT * FROM spiral_new UNION ALL SELECT * FROM spiral_old)'] LOOP
    stmts := stmts || format($q$
    WITH r AS (SELECT %1$s%2$s AS b FROM %3$s AS x GROUP BY %4$s),
         c AS (SELECT %5$scount(*) AS n, max(b) AS hi, CASE WHEN count(*) <= 64 THEN array_agg(b) ELSE ARRAY[min(b)] END AS bs
               FROM r %6$s),
         u AS (SELECT %5$sn, hi, unnest(bs) AS b FROM c)
    INSERT INTO spiral.marks (base_oid, t_start, t_end, scope)
    SELECT %7$s, %8$s, %9$s, %10$s FROM u$q$,
      keys, bucket, src, groups, key_refs,
      CASE WHEN key_refs = '' THEN '' ELSE 'GROUP BY ' || rtrim(key_refs, ', ') END,
      base::text || '::oid', span_start, span_end, scope_expr);
  END LOOP;
  RETURN format($b$
BEGIN
  IF TG_OP = 'INSERT' THEN%s;
  ELSIF TG_OP = 'DELETE' THEN%s;
  ELSE%s;
  END IF;
  RETURN NULL;
END$b$, stmts[1], stmts[2], stmts[3]);
END $$;

-- The mark triggers TriggerDDL creates, by name: event and transition tables.
CREATE FUNCTION spiral.mark_triggers(OUT name text, OUT event text, OUT refs text)
RETURNS SETOF record LANGUAGE sql IMMUTABLE AS $$
  VALUES ('spiral_mark_insert', 'INSERT', 'NEW TABLE AS spiral_new'),
         ('spiral_mark_update', 'UPDATE', 'OLD TABLE AS spiral_old NEW TABLE AS spiral_new'),
         ('spiral_mark_delete', 'DELETE', 'OLD TABLE AS spiral_old')
$$;

-- install_marker brings base's mark function in line with spiral.metadata:
-- (re)creates it for a registered table and points the table's existing
-- mark triggers at it; drops it once the table is gone. A table that is
-- still there but no longer registered keeps a function that marks nothing.
CREATE FUNCTION spiral.install_marker(base oid) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, spiral AS $$
DECLARE
  fn text := format('spiral.%I', 'mark_dirty_' || base);
  body text := spiral.marker_body(base);
  t record;
BEGIN
  IF body IS NULL THEN
    IF to_regprocedure(fn || '()') IS NULL THEN
      RETURN;
    END IF;
    IF NOT EXISTS (SELECT FROM pg_class WHERE oid = base) THEN
      EXECUTE format('DROP FUNCTION %s()', fn);
      RETURN;
    END IF;
    body := 'BEGIN RETURN NULL; END';
  END IF;
  EXECUTE format('CREATE OR REPLACE FUNCTION %s() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER'
                 ' SET search_path = pg_catalog, spiral AS %L', fn, body);
  FOR t IN SELECT m.* FROM spiral.mark_triggers() m JOIN pg_trigger g ON g.tgname = m.name
           WHERE g.tgrelid = base AND g.tgfoid <> to_regprocedure(fn || '()') LOOP
    EXECUTE format('CREATE OR REPLACE TRIGGER %I AFTER %s ON %s REFERENCING %s FOR EACH STATEMENT EXECUTE FUNCTION %s()',
                   t.name, t.event, base::regclass, t.refs, fn);
  END LOOP;
END $$;

-- Any change to spiral.metadata reinstalls the mark functions of the bases
-- it touched.
CREATE FUNCTION spiral.on_metadata_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, spiral AS $$
DECLARE
  base oid;
BEGIN
  IF TG_OP = 'INSERT' THEN
    FOR base IN SELECT DISTINCT base_oid FROM spiral_meta_new LOOP
      PERFORM spiral.install_marker(base);
    END LOOP;
  ELSIF TG_OP = 'DELETE' THEN
    FOR base IN SELECT DISTINCT base_oid FROM spiral_meta_old LOOP
      PERFORM spiral.install_marker(base);
    END LOOP;
  ELSE
    FOR base IN SELECT base_oid FROM spiral_meta_new UNION SELECT base_oid FROM spiral_meta_old LOOP
      PERFORM spiral.install_marker(base);
    END LOOP;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER metadata_insert AFTER INSERT ON spiral.metadata REFERENCING NEW TABLE AS spiral_meta_new
  FOR EACH STATEMENT EXECUTE FUNCTION spiral.on_metadata_change();
CREATE TRIGGER metadata_update AFTER UPDATE ON spiral.metadata REFERENCING OLD TABLE AS spiral_meta_old NEW TABLE AS spiral_meta_new
  FOR EACH STATEMENT EXECUTE FUNCTION spiral.on_metadata_change();
CREATE TRIGGER metadata_delete AFTER DELETE ON spiral.metadata REFERENCING OLD TABLE AS spiral_meta_old
  FOR EACH STATEMENT EXECUTE FUNCTION spiral.on_metadata_change();

-- Tables tracked before this migration move to their own functions now.
SELECT spiral.install_marker(base_oid) FROM spiral.metadata WHERE parent_view = 'BASE';
