-- A clean table has no dirty scopes: the LEFT JOIN's NULL row used to be
-- counted as one scope ('*', the all-scopes mark).
CREATE OR REPLACE VIEW spiral.status AS
SELECT b.view_schema AS base_schema,
       b.view_name AS base_view,
       (SELECT count(*) FROM spiral.metadata t WHERE t.base_oid = b.base_oid AND t.parent_view <> 'BASE') AS tier_count,
       count(m.id) AS dirty_entries,
       count(DISTINCT coalesce(m.scope::text, '*')) FILTER (WHERE m.id IS NOT NULL) AS dirty_scopes,
       coalesce(sum(m.t_end - m.t_start), 0)::bigint AS dirty_seconds,
       to_timestamp(min(m.t_start)) AS oldest_dirty_ts,
       to_timestamp(max(m.t_end)) AS newest_dirty_ts,
       clock_timestamp() - min(m.created_at) AS lag
FROM spiral.metadata b LEFT JOIN spiral.marks m ON m.base_oid = b.base_oid
WHERE b.parent_view = 'BASE'
GROUP BY b.view_schema, b.view_name, b.base_oid;
