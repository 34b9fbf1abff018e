-- spiral schema, migration 11: tier scope columns keep the collation of
-- the base table's scope columns. A tier column of the default collation
-- compares and sorts otherwise than a base column of another: a scope
-- condition such as site > 'B' read other tenants from the tier than from
-- the raw table. Collations that are not deterministic (case-insensitive
-- ICU ones) are refused for scope columns: marks and refreshes keep
-- tenants apart by their values, and such a collation makes unequal values
-- one tenant.
CREATE FUNCTION spiral.align_scope_collations(base regclass, strict boolean) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog AS $$
DECLARE
  r record;
BEGIN
  IF strict THEN
    SELECT a.attname INTO r
    FROM spiral.metadata m CROSS JOIN unnest(m.scope_columns) s(col)
    JOIN pg_attribute a ON a.attrelid = base AND a.attname = s.col
    JOIN pg_collation c ON c.oid = a.attcollation
    WHERE m.base_oid = base AND m.parent_view = 'BASE' AND NOT c.collisdeterministic
    LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'scope column % has a nondeterministic collation', r.attname
        USING ERRCODE = '0A000', HINT = 'Give the scope column a deterministic collation (COLLATE "C", or an ICU collation with deterministic = true).';
    END IF;
  END IF;
  FOR r IN
    SELECT m.view_schema, m.view_name, ta.attname, format_type(ta.atttypid, ta.atttypmod) AS typ, ba.attcollation::regcollation AS coll
    FROM spiral.metadata m CROSS JOIN unnest(m.scope_columns) s(col)
    JOIN pg_attribute ba ON ba.attrelid = base AND ba.attname = s.col
    JOIN pg_attribute ta ON ta.attrelid = to_regclass(format('%I.%I', m.view_schema, m.view_name)) AND ta.attname = s.col
    WHERE m.base_oid = base AND m.parent_view <> 'BASE' AND ta.attcollation <> ba.attcollation
  LOOP
    EXECUTE format('ALTER TABLE %I.%I ALTER COLUMN %I TYPE %s COLLATE %s', r.view_schema, r.view_name, r.attname, r.typ, r.coll);
  END LOOP;
END
$$;

DO $$
DECLARE
  b oid;
BEGIN
  FOR b IN SELECT base_oid FROM spiral.metadata WHERE parent_view = 'BASE' AND to_regclass(format('%I.%I', view_schema, view_name)) = base_oid::regclass LOOP
    PERFORM spiral.align_scope_collations(b::regclass, false);
  END LOOP;
END
$$;
