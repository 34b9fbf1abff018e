package engine

import (
	"context"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/changelog"
	"spiral/rewrite"
	"spiral/rollup"
)

// catalogTTL bounds how long a catalog read serves: changes made on
// connections that do not pass through this daemon (DROP TABLE, GRANT on a
// direct connection) are seen within it. The engine reads the catalog again
// every catalogTTL/2 in the background (watchCatalog), so a statement reads
// it itself only when that fails.
const catalogTTL = 2 * time.Second

// catalog caches the tracked tables and, per user, which tiers the user may
// read. Spiral DDL through the proxy invalidates it at once.
type catalog struct {
	mu     sync.Mutex
	loaded time.Time
	gen    uint64 // bumped when a reload finds a change; part of the decision cache key
	epoch  uint64 // bumped by invalidate, so a reload begun before it does not count as fresh
	state  catalogState
}

// catalogState is one read of the catalog.
type catalogState struct {
	tracked []rollup.Tracked
	columns map[uint32]map[string]string // base OID -> column -> format_type
	// collated: base OID -> the columns of a non-default collation
	collated map[uint32]map[string]bool
	rls      map[uint32]bool // base OID -> row-level security enabled
	dense    map[string]bool // qualified tier name -> rewrite.Tier.Dense
	users    map[string]*rewrite.Catalog
}

// invalidate makes the next lookup reload.
func (c *catalog) invalidate() {
	c.mu.Lock()
	c.loaded = time.Time{}
	c.epoch++
	c.mu.Unlock()
}

// install makes st the catalog, read while the epoch was epoch. A read
// equal to the current catalog keeps the generation, so the decisions
// cached for it stay valid; an invalidation since the read began leaves
// the catalog stale.
func (c *catalog) install(st catalogState, epoch uint64) {
	if !reflect.DeepEqual(st, c.state) {
		c.state = st
		c.gen++
	}
	if epoch == c.epoch {
		c.loaded = time.Now()
	}
}

// catalogFor returns the catalog as user may use it, and its generation.
func (e *Engine) catalogFor(ctx context.Context, user string) (*rewrite.Catalog, uint64, error) {
	c := &e.cat
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.loaded) > catalogTTL {
		st, err := e.readCatalog(ctx, slices.Collect(maps.Keys(c.state.users)))
		if err != nil {
			return nil, 0, err
		}
		c.install(st, c.epoch)
	}
	if rc, ok := c.state.users[user]; ok {
		return rc, c.gen, nil
	}
	rc, err := e.userCatalog(ctx, c.state, user)
	if err != nil {
		return nil, 0, err
	}
	c.state.users[user] = rc
	return rc, c.gen, nil
}

// watchCatalog reads the catalog every catalogTTL/2 until ctx ends, so
// statements find it fresh. Failures are left to the statements, which
// read it themselves once it is older than catalogTTL.
func (e *Engine) watchCatalog(ctx context.Context) {
	t := time.NewTicker(catalogTTL / 2)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.reloadCatalog(ctx); err != nil && ctx.Err() == nil {
			e.log.Debug("catalog reload", "err", err)
		}
	}
}

// reloadCatalog reads the catalog, for the users it has, without holding
// the lock statements wait on, and installs the read. A catalog no
// statement has asked for yet is left unread.
func (e *Engine) reloadCatalog(ctx context.Context) error {
	c := &e.cat
	c.mu.Lock()
	epoch, users := c.epoch, slices.Collect(maps.Keys(c.state.users))
	c.mu.Unlock()
	if users == nil {
		return nil
	}
	st, err := e.readCatalog(ctx, users)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.install(st, epoch)
	c.mu.Unlock()
	return nil
}

// readCatalog reads the tracked tables, their columns and the tiers each
// of users may read.
func (e *Engine) readCatalog(ctx context.Context, users []string) (catalogState, error) {
	tracked, err := changelog.LoadAll(ctx, e.pool)
	if err != nil {
		return catalogState{}, err
	}
	rows, err := e.pool.Query(ctx, `
		SELECT c.oid::int8, c.relrowsecurity, c.reltuples::float8, a.attname, format_type(a.atttypid, a.atttypmod),
		       a.attcollation NOT IN (0, 100) -- neither uncollatable nor the default
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.oid IN (SELECT base_oid FROM spiral.metadata WHERE parent_view = 'BASE')`)
	if err != nil {
		return catalogState{}, fmt.Errorf("catalog: %w", err)
	}
	st := catalogState{tracked: tracked, columns: map[uint32]map[string]string{}, collated: map[uint32]map[string]bool{},
		rls: map[uint32]bool{}, users: map[string]*rewrite.Catalog{}}
	var oid int64
	var sec, collated bool
	var name, typ string
	var reltuples float64
	baseRows := map[uint32]float64{}
	_, err = pgx.ForEachRow(rows, []any{&oid, &sec, &reltuples, &name, &typ, &collated}, func() error {
		if st.columns[uint32(oid)] == nil {
			st.columns[uint32(oid)] = map[string]string{}
			st.collated[uint32(oid)] = map[string]bool{}
		}
		st.columns[uint32(oid)][name] = typ
		if collated {
			st.collated[uint32(oid)][name] = true
		}
		st.rls[uint32(oid)] = sec
		baseRows[uint32(oid)] = reltuples
		return nil
	})
	if err != nil {
		return catalogState{}, fmt.Errorf("catalog: %w", err)
	}
	if st.dense, err = e.denseTiers(ctx, tracked, baseRows); err != nil {
		return catalogState{}, err
	}
	for _, u := range users {
		if st.users[u], err = e.userCatalog(ctx, st, u); err != nil {
			return catalogState{}, err
		}
	}
	return st, nil
}

// denseTiers finds the tiers that hold more than 1/rewrite.DenseRatio as
// many rows as their base table, by pg_class.reltuples (the planner's
// estimates); a table or tier never analyzed is not dense. Only the
// verdicts are kept, so the catalog, and the decisions cached for it,
// change only when one flips.
func (e *Engine) denseTiers(ctx context.Context, tracked []rollup.Tracked, baseRows map[uint32]float64) (map[string]bool, error) {
	var names []string
	base := map[string]float64{}
	for _, t := range tracked {
		for _, f := range t.Table.Frames {
			name := qualifiedTier(t, f)
			names = append(names, name)
			base[name] = baseRows[t.OID]
		}
	}
	dense := map[string]bool{}
	if len(names) == 0 {
		return dense, nil
	}
	rows, err := e.pool.Query(ctx, `
		SELECT t, c.reltuples::float8 FROM unnest($1::text[]) t JOIN pg_class c ON c.oid = to_regclass(t)`, names)
	if err != nil {
		return nil, fmt.Errorf("catalog: tier sizes: %w", err)
	}
	var name string
	var n float64
	_, err = pgx.ForEachRow(rows, []any{&name, &n}, func() error {
		if b := base[name]; b > 0 && n > 0 && b < rewrite.DenseRatio*n {
			dense[name] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: tier sizes: %w", err)
	}
	return dense, nil
}

// qualifiedTier is the schema-qualified name of t's tier of frame f, the
// key the catalog's per-tier maps use.
func qualifiedTier(t rollup.Tracked, f rollup.Frame) string {
	return rollup.QualifiedName(t.Table.Schema, t.Table.TierName(f))
}

// userCatalog keeps the tiers user may read, and no tier of a table with
// row-level security (a tier would bypass its policies).
func (e *Engine) userCatalog(ctx context.Context, c catalogState, user string) (*rewrite.Catalog, error) {
	var tiers []string
	for _, t := range c.tracked {
		for _, f := range t.Table.Frames {
			tiers = append(tiers, qualifiedTier(t, f))
		}
	}
	readable := map[string]bool{}
	if len(tiers) > 0 {
		rows, err := e.pool.Query(ctx, `
			SELECT t, has_table_privilege($1::name, t::regclass, 'SELECT')
			FROM unnest($2::text[]) t WHERE to_regclass(t) IS NOT NULL`, user, tiers)
		if err != nil {
			return nil, fmt.Errorf("catalog: privileges of %s: %w", user, err)
		}
		var name string
		var ok bool
		if _, err := pgx.ForEachRow(rows, []any{&name, &ok}, func() error { readable[name] = ok; return nil }); err != nil {
			return nil, fmt.Errorf("catalog: privileges of %s: %w", user, err)
		}
	}
	rc := &rewrite.Catalog{}
	for _, t := range c.tracked {
		src := &rewrite.Source{Table: t.Table, OID: t.OID, Columns: c.columns[t.OID], Collated: c.collated[t.OID]}
		for _, f := range t.Table.Frames {
			name := t.Table.TierName(f)
			qualified := qualifiedTier(t, f)
			if readable[qualified] && !c.rls[t.OID] {
				src.Tiers = append(src.Tiers, rewrite.Tier{Frame: f, Schema: t.Table.Schema, Name: name, Dense: c.dense[qualified]})
			}
		}
		rc.Sources = append(rc.Sources, src)
	}
	return rc, nil
}
