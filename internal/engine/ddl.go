package engine

import (
	"context"
	"fmt"
	"strings"

	"spiral/changelog"
	"spiral/internal/pgerr"
	"spiral/proxy"
	"spiral/rewrite"
	"spiral/rollup"
)

// create turns CREATE TABLE ... WITH (spiral.*) into one DO block: the base
// table, its tiers, an index for refreshes, the mark triggers and the
// registration. PostgreSQL runs it as one statement, so either all of it
// exists afterwards or none of it (invariant 6), and the client sees the
// CREATE TABLE tag.
func (e *Engine) create(s *proxy.SessionState, st *rewrite.CreateTracked) proxy.Rewrite {
	if err := e.sameDatabase(s); err != nil {
		return raise(err)
	}
	t := st.Table
	if err := t.Validate(); err != nil {
		return raise(asPgErr(err))
	}
	stmts := []string{st.BaseSQL}
	for _, f := range t.Frames {
		stmts = append(stmts, t.TierDDL(f))
		stmts = append(stmts, t.TierIndexDDL(f)...)
	}
	stmts = append(stmts, refreshIndexDDL(&t))
	stmts = append(stmts, changelog.TriggerDDL(t.Schema, t.Name)...)
	stmts = append(stmts, changelog.RegisterSQL(&t), alignCollations(changelog.Literal(rollup.QualifiedName(t.Schema, t.Name))+"::regclass", true))
	body := strings.Join(stmts, ";\n") + ";"
	if st.IfNotExists {
		body = skipIfExists(&t) + body
	}
	return proxy.Rewrite{SQL: doBlock(body), Tag: "CREATE TABLE"}
}

// refreshIndexDDL indexes the base table on (scope..., time): every refresh
// reads one tenant's time range.
func refreshIndexDDL(t *rollup.Table) string {
	cols := make([]string, 0, len(t.ScopeColumns)+1)
	for _, c := range append(append([]string{}, t.ScopeColumns...), t.TimeColumn) {
		cols = append(cols, rollup.QuoteIdent(c))
	}
	return fmt.Sprintf("CREATE INDEX ON %s (%s)", rollup.QualifiedName(t.Schema, t.Name), strings.Join(cols, ", "))
}

// alignCollations gives the tiers' scope columns the collations of the
// base table (base, a regclass expression); strict refuses
// nondeterministic ones (0A000).
func alignCollations(base string, strict bool) string {
	return fmt.Sprintf("PERFORM spiral.align_scope_collations(%s, %t)", base, strict)
}

// skipIfExists makes CREATE TABLE IF NOT EXISTS a no-op with PostgreSQL's
// notice when the table is there.
func skipIfExists(t *rollup.Table) string {
	name := changelog.Literal(rollup.QualifiedName(t.Schema, t.Name))
	return fmt.Sprintf("IF to_regclass(%s) IS NOT NULL THEN\n  RAISE NOTICE 'relation %% already exists, skipping', %s;\n  RETURN;\nEND IF;\n",
		name, changelog.Literal(t.Name))
}

// alter applies ALTER TABLE ... SET (spiral.frames = '...'): drops the tiers
// no longer wanted, creates the new ones, re-registers the tier list and
// schedules a backfill that recomputes every tier from the data.
func (e *Engine) alter(ctx context.Context, s *proxy.SessionState, st *rewrite.AlterTracked) proxy.Rewrite {
	if err := e.sameDatabase(s); err != nil {
		return raise(err)
	}
	for name := range st.Options {
		if name != "frames" && name != "approximate_percentiles" {
			return raise(pgerr.New(pgerr.FeatureNotSupported, "ALTER TABLE ... SET changes only spiral.frames and spiral.approximate_percentiles of a tracked table").
				WithHint("To change the tenant, time column or time zone, create a new tracked table and copy the data."))
		}
	}
	tr, err := changelog.Load(ctx, e.pool, st.Schema, st.Name)
	if err != nil {
		return raise(asPgErr(err))
	}
	next := *tr.Table
	var stmts []string
	if v, ok := st.Options["approximate_percentiles"]; ok {
		if next.ApproximatePercentiles, err = rewrite.ParseApproximate(&next, v); err != nil {
			return raise(asPgErr(err))
		}
		stmts = append(stmts, fmt.Sprintf("UPDATE spiral.metadata SET approximate_percentiles = %t WHERE base_oid = %d",
			next.ApproximatePercentiles, tr.OID))
	}
	if frames, ok := st.Options["frames"]; ok {
		if next.Frames, err = rollup.ParseFrames(frames); err == nil {
			err = next.Validate()
		}
		if err != nil {
			return raise(asPgErr(err))
		}
		stmts = append(stmts, alterStatements(tr, &next)...)
	}
	e.invalidateFor(s)
	return proxy.Rewrite{SQL: doBlock(strings.Join(stmts, ";\n") + ";"), Tag: "ALTER TABLE"}
}

func alterStatements(tr rollup.Tracked, next *rollup.Table) []string {
	old := tr.Table
	var stmts []string
	for _, f := range old.Frames {
		if !hasFrame(next.Frames, f) {
			stmts = append(stmts, old.DropTierDDL(f))
		}
	}
	for _, f := range next.Frames {
		if !hasFrame(old.Frames, f) {
			stmts = append(stmts, next.TierDDL(f))
			stmts = append(stmts, next.TierIndexDDL(f)...)
		}
	}
	return append(stmts,
		fmt.Sprintf("DELETE FROM spiral.metadata WHERE base_oid = %d AND parent_view <> 'BASE'", tr.OID),
		changelog.RegisterTiersSQL(next),
		alignCollations(fmt.Sprintf("%d::oid::regclass", tr.OID), false),
		fmt.Sprintf("PERFORM spiral.schedule_backfill(%d::oid::regclass)", tr.OID))
}

func hasFrame(frames []rollup.Frame, f rollup.Frame) bool {
	for _, g := range frames {
		if g.Name == f.Name {
			return true
		}
	}
	return false
}
