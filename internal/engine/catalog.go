package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"spiral/changelog"
	"spiral/rewrite"
	"spiral/rollup"
)

// catalogTTL bounds how long a catalog read serves: changes made on
// connections that do not pass through this daemon (DROP TABLE, GRANT on a
// direct connection) are seen within it.
const catalogTTL = 2 * time.Second

// catalog caches the tracked tables and, per user, which tiers the user may
// read. Spiral DDL through the proxy invalidates it at once.
type catalog struct {
	mu      sync.Mutex
	loaded  time.Time
	gen     uint64 // bumped on every reload, part of the decision cache key
	tracked []rollup.Tracked
	columns map[uint32]map[string]string // base OID -> column -> format_type
	rls     map[uint32]bool              // base OID -> row-level security enabled
	users   map[string]*rewrite.Catalog
}

// invalidate makes the next lookup reload.
func (c *catalog) invalidate() {
	c.mu.Lock()
	c.loaded = time.Time{}
	c.mu.Unlock()
}

// forUser returns the catalog as user may use it, and its generation.
func (e *Engine) catalogFor(ctx context.Context, user string) (*rewrite.Catalog, uint64, error) {
	c := &e.cat
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.loaded) > catalogTTL {
		if err := e.loadCatalog(ctx); err != nil {
			return nil, 0, err
		}
	}
	if rc, ok := c.users[user]; ok {
		return rc, c.gen, nil
	}
	rc, err := e.userCatalog(ctx, user)
	if err != nil {
		return nil, 0, err
	}
	c.users[user] = rc
	return rc, c.gen, nil
}

// loadCatalog reads the tracked tables and their columns; c.mu is held.
func (e *Engine) loadCatalog(ctx context.Context) error {
	c := &e.cat
	tracked, err := changelog.LoadAll(ctx, e.pool)
	if err != nil {
		return err
	}
	rows, err := e.pool.Query(ctx, `
		SELECT c.oid::int8, c.relrowsecurity, a.attname, format_type(a.atttypid, a.atttypmod)
		FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE c.oid IN (SELECT base_oid FROM spiral.metadata WHERE parent_view = 'BASE')`)
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	columns, rls := map[uint32]map[string]string{}, map[uint32]bool{}
	var oid int64
	var sec bool
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&oid, &sec, &name, &typ}, func() error {
		if columns[uint32(oid)] == nil {
			columns[uint32(oid)] = map[string]string{}
		}
		columns[uint32(oid)][name] = typ
		rls[uint32(oid)] = sec
		return nil
	})
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	c.tracked, c.columns, c.rls = tracked, columns, rls
	c.users = map[string]*rewrite.Catalog{}
	c.loaded = time.Now()
	c.gen++
	return nil
}

// userCatalog keeps the tiers user may read, and no tier of a table with
// row-level security (a tier would bypass its policies); c.mu is held.
func (e *Engine) userCatalog(ctx context.Context, user string) (*rewrite.Catalog, error) {
	c := &e.cat
	var tiers []string
	for _, t := range c.tracked {
		for _, f := range t.Table.Frames {
			tiers = append(tiers, rollup.QualifiedName(t.Table.Schema, t.Table.TierName(f)))
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
		src := &rewrite.Source{Table: t.Table, OID: t.OID, Columns: c.columns[t.OID]}
		for _, f := range t.Table.Frames {
			name := t.Table.TierName(f)
			if readable[rollup.QualifiedName(t.Table.Schema, name)] && !c.rls[t.OID] {
				src.Tiers = append(src.Tiers, rewrite.Tier{Frame: f, Schema: t.Table.Schema, Name: name})
			}
		}
		rc.Sources = append(rc.Sources, src)
	}
	return rc, nil
}
