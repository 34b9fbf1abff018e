-- Ranges the refresh could not recompute. A batch that fails with a data
-- error (SQLSTATE class 22, e.g. a float8 sum that overflows, or 54) is
-- split until the marks that fail alone are found; each of those is set
-- aside here with its error and a time to try again, doubling from a
-- minute to an hour, so the rest of the table keeps refreshing. A mark set
-- aside stays in spiral.marks: its range stays dirty and queries read it
-- from the raw table, which gives them the raw table's own answer (or
-- error). Rows are removed with their marks.
CREATE TABLE spiral.refresh_failures (
  mark_id      bigint      PRIMARY KEY,
  base_oid     oid         NOT NULL,
  failures     int         NOT NULL,
  sqlstate     text        NOT NULL,
  error        text        NOT NULL,
  first_failed timestamptz NOT NULL,
  last_failed  timestamptz NOT NULL,
  retry_at     timestamptz NOT NULL
);
GRANT SELECT ON spiral.refresh_failures TO PUBLIC;

CREATE VIEW spiral.failed_ranges AS
SELECT b.view_schema AS base_schema,
       b.view_name AS base_view,
       to_timestamp(m.t_start) AS range_start,
       to_timestamp(m.t_end) AS range_end,
       m.scope AS scope_values,
       f.failures,
       f.sqlstate,
       f.error,
       f.first_failed,
       f.last_failed,
       f.retry_at
FROM spiral.refresh_failures f
JOIN spiral.marks m ON m.id = f.mark_id
JOIN spiral.metadata b ON b.base_oid = m.base_oid AND b.parent_view = 'BASE';
GRANT SELECT ON spiral.failed_ranges TO PUBLIC;
