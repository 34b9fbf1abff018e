-- spiral schema, migration 6: table options beyond the tier layout.
--
-- approximate_percentiles (spiral.approximate_percentiles = 'on' in CREATE
-- TABLE ... WITH): percentile_cont over the table may be answered from its
-- sketch tiers in sessions that leave spiral.approximate_percentiles at
-- its default, 'table'.
ALTER TABLE spiral.metadata ADD COLUMN IF NOT EXISTS approximate_percentiles boolean NOT NULL DEFAULT false;
