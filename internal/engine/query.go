package engine

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"spiral/internal/pgerr"
	"spiral/proxy"
	"spiral/rewrite"
	"spiral/rollup"
)

// settingsKey is the SessionState key of a session's spiral settings.
type settingsKey struct{}

// sessionSettings are a session's spiral.* controls (SET spiral.x).
type sessionSettings struct {
	mu     sync.Mutex
	values map[string]string
	// roleChanged: the session ran SET ROLE or SET SESSION AUTHORIZATION,
	// so it is no longer rewritten.
	roleChanged atomic.Bool
}

func (e *Engine) settings(s *proxy.SessionState) *sessionSettings {
	if v, ok := s.Local(settingsKey{}).(*sessionSettings); ok {
		return v
	}
	v := &sessionSettings{values: map[string]string{}}
	for k, d := range rewrite.SessionDefaults {
		v.values[k] = d
	}
	s.SetLocal(settingsKey{}, v)
	return v
}

func (ss *sessionSettings) get(name string) string {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.values[name]
}

func (ss *sessionSettings) set(name, value string) {
	ss.mu.Lock()
	ss.values[name] = value
	ss.mu.Unlock()
}

// setSetting answers SET/RESET spiral.x: spiral keeps the value for the
// session, and PostgreSQL runs a DO block that mirrors it into a session
// placeholder setting (so SHOW reads it at execution, also from a client's
// cached prepared statement); the client sees the SET (or RESET) tag.
// spiral's copy is not transactional: a SET rolled back stays in effect.
func (e *Engine) setSetting(s *proxy.SessionState, st *rewrite.SessionSet) proxy.Rewrite {
	e.settings(s).set(st.Name, st.Value)
	tag := "SET"
	if st.Reset {
		tag = "RESET"
	}
	body := fmt.Sprintf("PERFORM set_config(%s, %s, false);", rollup.QuoteLiteral("spiral."+st.Name), rollup.QuoteLiteral(st.Value))
	return proxy.Rewrite{SQL: doBlock(body), Tag: tag}
}

// showSetting answers SHOW spiral.x as SHOW would: one text column named
// after the setting.
func (e *Engine) showSetting(st *rewrite.SessionShow) proxy.Rewrite {
	name := "spiral." + st.Name
	return proxy.Rewrite{SQL: fmt.Sprintf("SELECT coalesce(nullif(current_setting(%s, true), ''), %s)::text AS %s",
		rollup.QuoteLiteral(name), rollup.QuoteLiteral(rewrite.SessionDefaults[st.Name]), rollup.QuoteIdent(name))}
}

// decisionKey identifies one rewrite decision: the same text under the
// same settings and catalog always rewrites the same way.
type decisionKey struct {
	sql, tz, user string
	maxSegments   int
	show          bool
	percentiles   rewrite.PercentileMode
	transparent   bool // spiral.enable_rewrite is on and the role unchanged
	gen           uint64
}

// decision is what runs for one statement text.
type decision struct {
	sql     string          // "" = run as written
	fin     *rewrite.Finish // sketch columns the proxy finishes
	err     *pgerr.Error    // raised instead of running the statement
	prepare bool            // sql is one SELECT the proxy may keep prepared
}

// rewrite turns a decision into the proxy's instruction.
func (d decision) rewrite(sql string) proxy.Rewrite {
	switch {
	case d.err != nil:
		return raise(d.err)
	case d.sql == "":
		return proxy.Rewrite{SQL: sql}
	case d.fin != nil && len(d.fin.Columns) > 0:
		return proxy.Rewrite{SQL: d.sql, Columns: finishColumns{d.fin}, Prepare: d.prepare}
	}
	return proxy.Rewrite{SQL: d.sql, Prepare: d.prepare}
}

// decisions caches rewrite decisions; it is dropped whole when full.
type decisions struct {
	mu sync.Mutex
	m  map[decisionKey]decision
}

const maxDecisions = 4096

func (d *decisions) get(k decisionKey) (decision, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	v, ok := d.m[k]
	return v, ok
}

func (d *decisions) put(k decisionKey, v decision) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil || len(d.m) >= maxDecisions {
		d.m = make(map[decisionKey]decision)
	}
	d.m[k] = v
}

// query rewrites spiral's SQL API calls and aggregates over tracked tables,
// or returns sql as it is. Any failure of the transparent rewrite runs the
// statement as written (invariant 3).
func (e *Engine) query(ctx context.Context, s *proxy.SessionState, sql string) proxy.Rewrite {
	ss := e.settings(s)
	if rewrite.ChangesRole(sql) {
		// Tier privileges were checked for the login user.
		ss.roleChanged.Store(true)
	}
	transparent := ss.get("enable_rewrite") == "on" && !ss.roleChanged.Load()
	calls := rewrite.CallsSpiral(sql)
	if !transparent && !calls {
		return proxy.Rewrite{SQL: sql}
	}
	user := s.Startup("user")
	cat, gen, err := e.catalogFor(ctx, user)
	if err != nil {
		e.log.Warn("rewrite: catalog", "err", err)
		return proxy.Rewrite{SQL: sql}
	}
	if !calls && !cat.Mentioned(sql) {
		return proxy.Rewrite{SQL: sql}
	}
	e.noticeDDL(s, sql)
	maxSeg, _ := strconv.Atoi(ss.get("max_segments"))
	k := decisionKey{sql: sql, tz: s.Param("TimeZone"), user: user, maxSegments: maxSeg,
		show: ss.get("show_rewrite") == "on", percentiles: rewrite.ParsePercentileMode(ss.get("approximate_percentiles")), transparent: transparent, gen: gen}
	d, ok := e.decided.get(k)
	if !ok {
		d = e.decide(k, cat)
		e.decided.put(k, d)
	}
	return d.rewrite(sql)
}

// decide rewrites one statement: spiral's API calls first, then, when the
// session allows it, the transparent rewrite of aggregates.
func (e *Engine) decide(k decisionKey, cat *rewrite.Catalog) decision {
	out, fin, err := rewrite.Functions(k.sql, cat)
	if err == nil {
		return decision{sql: out, fin: fin}
	}
	if pe := pgerr.As(err); pe != nil {
		return decision{err: pe}
	}
	if !rewrite.IsSkip(err) {
		e.log.Warn("rewrite of spiral functions failed; running the statement as written", "sql", k.sql, "err", err)
		return decision{}
	}
	if !k.transparent {
		return decision{}
	}
	out, fin, err = rewrite.QueryFinish(k.sql, cat, rewrite.Settings{TimeZone: k.tz, MaxSegments: k.maxSegments,
		ShowRewrite: k.show, Percentiles: k.percentiles})
	// QueryFinish rewrites a SELECT or an EXPLAIN of one, and the deparser
	// writes EXPLAIN first; PREPARE takes only the SELECT.
	prepare := err == nil && !strings.HasPrefix(out, "EXPLAIN")
	switch {
	case err == nil:
		e.log.Debug("rewrite", "sql", k.sql, "rewritten", out)
	case rewrite.IsSkip(err):
		e.log.Debug("rewrite: pass through", "sql", k.sql, "why", err)
	default:
		e.log.Warn("rewrite failed; running the statement as written", "sql", k.sql, "err", err)
	}
	return decision{sql: out, fin: fin, prepare: prepare}
}

// noticeDDL drops the catalog when a statement that may change tracked
// tables or their privileges passes through.
func (e *Engine) noticeDDL(s *proxy.SessionState, sql string) {
	head := strings.TrimSpace(sql)
	for _, kw := range []string{"DROP", "ALTER", "GRANT", "REVOKE", "CREATE", "COMMENT"} {
		if len(head) >= len(kw) && strings.EqualFold(head[:len(kw)], kw) {
			e.invalidateFor(s)
			return
		}
	}
}

// invalidateFor drops the catalog for a DDL statement of session s: now,
// and again once the statement's transaction has ended. A read of the
// catalog made in between (another session's, the background reload's)
// does not see the change yet, and would otherwise serve as fresh for up
// to catalogTTL.
func (e *Engine) invalidateFor(s *proxy.SessionState) {
	e.cat.invalidate()
	s.AfterTransaction(e.cat.invalidate)
}
