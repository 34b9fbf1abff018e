package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"spiral/changelog"
	"spiral/internal/pgerr"
	"spiral/proxy"
	"spiral/rewrite"
	"spiral/rollup"
)

// Engine is the statement hook and refresh engine of one spiral daemon. It
// manages the database its pool is connected to.
type Engine struct {
	pool      *pgxpool.Pool
	refresher *rollup.Refresher
	log       *slog.Logger
	database  string
	cat       catalog
	decided   decisions
	stopWatch context.CancelFunc // ends watchCatalog
	watchDone chan struct{}
}

var _ proxy.Hook = (*Engine)(nil)

// New connects to the database at dsn (a superuser: installing the spiral
// schema creates an event trigger), installs or upgrades the spiral schema
// and returns the engine.
func New(ctx context.Context, dsn string, log *slog.Logger) (*Engine, error) {
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	e := &Engine{pool: pool, log: log, database: pool.Config().ConnConfig.Database}
	e.refresher = &rollup.Refresher{Pool: pool, Marks: changelog.Store{}, BatchSize: DefaultWorkerConfig().BatchSize, MaxSpan: 24 * time.Hour, Log: log}
	if err := e.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	watchCtx, stop := context.WithCancel(context.Background())
	e.stopWatch, e.watchDone = stop, make(chan struct{})
	go func() {
		defer close(e.watchDone)
		e.watchCatalog(watchCtx)
	}()
	return e, nil
}

func (e *Engine) migrate(ctx context.Context) error {
	conn, err := e.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("engine: %w", err)
	}
	defer conn.Release()
	return changelog.Migrate(ctx, conn.Conn())
}

// Close stops the catalog watcher and releases the engine's connections.
func (e *Engine) Close() {
	e.stopWatch()
	<-e.watchDone
	e.pool.Close()
}

// Pool is the engine's connection pool.
func (e *Engine) Pool() *pgxpool.Pool { return e.pool }

// Refresher is the engine's refresh engine.
func (e *Engine) Refresher() *rollup.Refresher { return e.refresher }

// Statement implements proxy.Hook.
func (e *Engine) Statement(ctx context.Context, s *proxy.SessionState, kind proxy.StatementKind, sql string) proxy.Rewrite {
	switch st := rewrite.Classify(sql).(type) {
	case *rewrite.Invalid:
		return raise(st.Err)
	case *rewrite.CreateTracked:
		return e.create(s, st)
	case *rewrite.AlterTracked:
		return e.alter(ctx, s, st)
	case *rewrite.RefreshCall:
		return e.refreshCall(ctx, s, kind, st)
	case *rewrite.SessionSet:
		return e.setSetting(s, st)
	case *rewrite.SessionShow:
		return e.showSetting(st)
	}
	return e.query(ctx, s, sql)
}

// sameDatabase refuses spiral statements in a database the engine does not
// manage: its schema, triggers and worker live in one database.
func (e *Engine) sameDatabase(s *proxy.SessionState) *pgerr.Error {
	db := s.Startup("database")
	if db == "" {
		db = s.Startup("user")
	}
	if db == e.database {
		return nil
	}
	return pgerr.New(pgerr.FeatureNotSupported, "spiral manages database %q, not %q", e.database, db).
		WithHint("Connect to %q, or run a spiral daemon whose --worker-dsn names %q.", e.database, db)
}

// asPgErr turns any error into what the client sees.
func asPgErr(err error) *pgerr.Error {
	if pe := pgerr.As(err); pe != nil {
		return pe
	}
	if errors.Is(err, context.Canceled) {
		return pgerr.New(pgerr.QueryCanceled, "canceling statement due to user request")
	}
	if errors.Is(err, changelog.ErrNotTracked) {
		return pgerr.New(pgerr.UndefinedTable, "%v", err).WithHint("Create it with CREATE TABLE ... WITH (spiral.frames = '...').")
	}
	var upstream *pgconn.PgError // a *rollup.RangesFailed unwraps to one too
	if errors.As(err, &upstream) {
		pe := pgerr.New(upstream.Code, "spiral: %s", strings.TrimSuffix(err.Error(), " (SQLSTATE "+upstream.Code+")"))
		if failed := new(*rollup.RangesFailed); errors.As(err, failed) {
			pe = pe.WithHint("spiral.failed_ranges lists the ranges, their errors and when the worker tries them again.")
		}
		return pe
	}
	return pgerr.New(pgerr.InternalError, "spiral: %v", err)
}
