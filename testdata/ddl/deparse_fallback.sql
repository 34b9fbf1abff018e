-- pg_query's deparser drops the parentheses around AT TIME ZONE before a
-- cast, so this statement is cut from the original text instead.
CREATE TABLE readings (
  at timestamptz NOT NULL,
  day date GENERATED ALWAYS AS ((at AT TIME ZONE 'UTC')::date) STORED, -- derived
  v float4 -- Spiral: stats
) WITH (spiral.frames = '1h', spiral.timezone = 'UTC');
