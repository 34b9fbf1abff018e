package engine

import (
	"context"
	"fmt"

	"spiral/changelog"
	"spiral/proxy"
	"spiral/rewrite"
	"spiral/rollup"
)

// refreshCall runs SELECT spiral_refresh('t' [, 'scope']) in the daemon,
// after every earlier statement of the session has been answered, and has
// PostgreSQL return the count. In the extended protocol the refresh runs
// at every execution of the prepared statement and the statement reads its
// outcome from spiral.refresh_results.
func (e *Engine) refreshCall(ctx context.Context, s *proxy.SessionState, kind proxy.StatementKind, st *rewrite.RefreshCall) proxy.Rewrite {
	if err := e.sameDatabase(s); err != nil {
		return raise(err)
	}
	alias := rollup.QuoteIdent(st.Alias)
	run := func(ctx context.Context) (int64, error) {
		if err := s.Barrier(ctx); err != nil {
			return 0, err
		}
		return e.RefreshTable(ctx, st.Schema, st.Name, st.Scope)
	}
	if kind == proxy.SimpleQuery {
		n, err := run(ctx)
		if err != nil {
			return raise(asPgErr(err))
		}
		return proxy.Rewrite{SQL: fmt.Sprintf("SELECT %d::int8 AS %s", n, alias)}
	}
	return proxy.Rewrite{
		SQL: "SELECT spiral.refresh_result() AS " + alias,
		OnExecute: func(ctx context.Context) error {
			n, err := run(ctx)
			// A cancelled refresh is stored as such: Execute then fails with 57014.
			return e.storeResult(context.WithoutCancel(ctx), s.BackendPID(), n, err)
		},
	}
}

// RefreshTable recomputes the dirty buckets of a tracked table, of the
// tenants scope selects when it is not empty ("col = v AND ...").
func (e *Engine) RefreshTable(ctx context.Context, schema, name, scope string) (int64, error) {
	tr, err := changelog.Load(ctx, e.pool, schema, name)
	if err != nil {
		return 0, err
	}
	sc, err := rewrite.ParseScope(scope, tr.Table.ScopeColumns, tr.Table.ScopeTypes)
	if err != nil {
		return 0, err
	}
	conds := make([]rollup.ScopeCond, len(sc.Conds))
	for i, c := range sc.Conds {
		conds[i] = rollup.ScopeCond{Column: c.Column, Values: c.Values}
	}
	return e.refresher.Refresh(ctx, tr, conds)
}

// storeResult records a refresh's outcome for the session's backend.
func (e *Engine) storeResult(ctx context.Context, pid uint32, n int64, err error) error {
	var code, text, hint *string
	if err != nil {
		pe := asPgErr(err)
		code, text, hint = &pe.Code, &pe.Message, &pe.Hint
	}
	_, werr := e.pool.Exec(ctx, `INSERT INTO spiral.refresh_results (backend_pid, buckets, error_code, error_text, error_hint)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (backend_pid) DO UPDATE
		SET buckets = excluded.buckets, error_code = excluded.error_code, error_text = excluded.error_text, error_hint = excluded.error_hint`,
		int32(pid), n, code, text, hint)
	return werr
}
