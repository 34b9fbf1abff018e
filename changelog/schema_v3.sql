-- spiral schema, migration 3: what rewritten queries call.

-- spiral.notice(msg) sends msg to the client as a NOTICE and returns true.
-- A rewritten query calls it for SET spiral.show_rewrite = on, and when it
-- falls back to the raw table because its plan would exceed
-- spiral.max_segments.
CREATE OR REPLACE FUNCTION spiral.notice(msg text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog AS $$
BEGIN
  RAISE NOTICE '%', msg;
  RETURN true;
END $$;
GRANT EXECUTE ON FUNCTION spiral.notice(text) TO PUBLIC;
