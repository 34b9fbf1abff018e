-- spiral schema, migration 7: an index on the bucket start of every tier
-- of a table with scope columns (new tiers get it when created). Queries
-- over all tenants read a tier's buckets by time range; the primary key,
-- scope columns first, cannot serve that.
DO $$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT m.view_schema, m.view_name, m.time_column
    FROM spiral.metadata m
    WHERE m.parent_view <> 'BASE' AND cardinality(m.scope_columns) > 0
      AND to_regclass(format('%I.%I', m.view_schema, m.view_name)) IS NOT NULL
      AND NOT EXISTS (
        SELECT FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = format('%I.%I', m.view_schema, m.view_name)::regclass
          AND i.indnatts = 1 AND a.attname = m.time_column)
  LOOP
    EXECUTE format('CREATE INDEX ON %I.%I (%I)', r.view_schema, r.view_name, r.time_column);
  END LOOP;
END
$$;
