package proxy_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"spiral/internal/pgtest"
	"spiral/proxy"
)

// halving finishes column 0 of statements marked /*finish*/: PostgreSQL
// sends an integer as text, the client sees float8 (half of it). With
// /*fail*/ the third row fails.
type halving struct{ fail bool }

func (halving) Describe(fields []pgproto3.FieldDescription) {
	fields[0].DataTypeOID, fields[0].DataTypeSize, fields[0].TypeModifier = 701, 8, -1
	fields[0].Name = []byte("half")
}

func (h halving) Row(values [][]byte, format func(int) int16) error {
	if values[0] == nil {
		return nil
	}
	n, err := strconv.Atoi(string(values[0]))
	if err != nil {
		return err
	}
	if h.fail && n == 3 {
		return sqlStateError{"XX001", "bad state in row 3"}
	}
	x := float64(n) / 2
	if format(0) == 1 {
		values[0] = binary.BigEndian.AppendUint64(nil, math.Float64bits(x))
	} else {
		values[0] = strconv.AppendFloat(nil, x, 'g', -1, 64)
	}
	return nil
}

type sqlStateError struct{ code, msg string }

func (e sqlStateError) Error() string    { return e.msg }
func (e sqlStateError) SQLState() string { return e.code }

type finishHook struct{}

func (finishHook) Statement(_ context.Context, _ *proxy.SessionState, _ proxy.StatementKind, sql string) proxy.Rewrite {
	if !strings.Contains(sql, "/*finish*/") {
		return proxy.Rewrite{SQL: sql}
	}
	return proxy.Rewrite{SQL: sql, Columns: halving{fail: strings.Contains(sql, "/*fail*/")}}
}

const finishQuery = "SELECT /*finish*/ x::text, x FROM generate_series(1, 5) x ORDER BY 2"

// TestColumnsFinished: a hook's Columns rewrite the RowDescription (type
// and name) and every row, in the format each protocol mode asks for.
func TestColumnsFinished(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = finishHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	modes := []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement,
		pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec}
	for _, mode := range modes {
		for run := 0; run < 2; run++ { // the second run uses cached descriptions
			rows, err := conn.Query(ctx, finishQuery, mode)
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			if f := rows.FieldDescriptions(); f[0].DataTypeOID != 701 || f[0].Name != "half" || f[1].DataTypeOID != 23 {
				t.Fatalf("%v: fields %+v, want half float8 and x int4", mode, f)
			}
			got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
				var h float64
				var x int32
				err := r.Scan(&h, &x)
				return fmt.Sprint(h, "/", x), err
			})
			if err != nil {
				t.Fatalf("%v: %v", mode, err)
			}
			if want := "[0.5/1 1/2 1.5/3 2/4 2.5/5]"; fmt.Sprint(got) != want {
				t.Fatalf("%v: rows %v, want %v", mode, got, want)
			}
		}
	}
}

// TestColumnsFinishedInBatch: in a pipeline, only the watched statement's
// Describe and Execute are finished, whatever comes before them.
func TestColumnsFinishedInBatch(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = finishHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	b := &pgx.Batch{}
	var plain []string
	var halves []float64
	b.Queue("SELECT 'a'::text UNION ALL SELECT 'b'").Query(func(r pgx.Rows) error {
		var err error
		plain, err = pgx.CollectRows(r, pgx.RowTo[string])
		return err
	})
	b.Queue(finishQuery).Query(func(r pgx.Rows) error {
		return collectHalves(r, &halves)
	})
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(plain, halves) != "[a b] [0.5 1 1.5 2 2.5]" {
		t.Fatalf("got %v %v", plain, halves)
	}
}

func collectHalves(r pgx.Rows, out *[]float64) error {
	for r.Next() {
		var h float64
		var x int32
		if err := r.Scan(&h, &x); err != nil {
			return err
		}
		*out = append(*out, h)
	}
	return r.Err()
}

// TestColumnsRowError: a Row that fails reaches the client as an ERROR with
// its SQLSTATE; the rest of the request is dropped and the session goes on.
func TestColumnsRowError(t *testing.T) {
	p := startProxy(t, func(c *proxy.Config) { c.Hook = finishHook{} })
	conn := connect(t, p.dsn(t, pgtest.NewDB(t)))
	ctx := ctxT(t)
	failing := strings.Replace(finishQuery, "/*finish*/", "/*finish*/ /*fail*/", 1)
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeSimpleProtocol, pgx.QueryExecModeCacheStatement} {
		var halves []float64
		rows, err := conn.Query(ctx, failing, mode)
		if err == nil {
			err = collectHalves(rows, &halves)
		}
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "XX001" || pe.Severity != "ERROR" {
			t.Fatalf("%v: err %v, want ERROR XX001", mode, err)
		}
		var one int
		if err := conn.QueryRow(ctx, "SELECT 1", mode).Scan(&one); err != nil || one != 1 {
			t.Fatalf("%v: session after a failed row: %v", mode, err)
		}
	}
}
