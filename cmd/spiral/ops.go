package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"

	"github.com/jackc/pgx/v5"

	"spiral/internal/engine"
	"spiral/rewrite"
)

// opsDSN is where operator commands connect: --dsn, else the daemon's
// SPIRAL_WORKER_DSN, else SPIRAL_UPSTREAM.
func opsDSN(flagValue string) (string, error) {
	for _, v := range []string{flagValue, os.Getenv("SPIRAL_WORKER_DSN"), os.Getenv("SPIRAL_UPSTREAM")} {
		if v != "" {
			return v, nil
		}
	}
	return "", errors.New("no database: give --dsn, or set SPIRAL_WORKER_DSN or SPIRAL_UPSTREAM")
}

// runRefresh is `spiral refresh TABLE [--scope 'col = v']`.
func runRefresh(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("spiral refresh", flag.ContinueOnError)
	dsnFlag := fs.String("dsn", "", "database (a superuser); default $SPIRAL_WORKER_DSN or $SPIRAL_UPSTREAM")
	scope := fs.String("scope", "", "only these tenants, e.g. 'sensor_id = 3' or 'a IN (1, 2) AND b = 7'")
	pos, err := parseInterspersed(fs, args)
	if err != nil || len(pos) != 1 {
		fmt.Fprintln(fs.Output(), "usage: spiral refresh TABLE [--scope 'col = value'] [--dsn DSN]")
		return errUsage
	}
	table := pos[0]
	dsn, err := opsDSN(*dsnFlag)
	if err != nil {
		return err
	}
	schema, name, err := rewrite.ParseQualifiedName(table)
	if err != nil {
		return err
	}
	eng, err := engine.New(ctx, dsn, slog.New(slog.NewTextHandler(os.Stderr, nil)))
	if err != nil {
		return err
	}
	defer eng.Close()
	n, err := eng.RefreshTable(ctx, schema, name, *scope)
	if err != nil {
		return err
	}
	fmt.Printf("%d buckets refreshed\n", n)
	return nil
}

// parseInterspersed parses flags placed before, between or after the
// positional arguments, which it returns; "--" ends the flags.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		if len(args) > fs.NArg() && args[len(args)-fs.NArg()-1] == "--" {
			return append(pos, fs.Args()...), nil
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
}

// runStatus is `spiral status`: spiral.status, and with --scopes the
// per-tenant spiral.scope_status.
func runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("spiral status", flag.ContinueOnError)
	dsnFlag := fs.String("dsn", "", "database; default $SPIRAL_WORKER_DSN or $SPIRAL_UPSTREAM")
	scopes := fs.Bool("scopes", false, "also list dirty tenants (spiral.scope_status)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	dsn, err := opsDSN(*dsnFlag)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := printQuery(ctx, os.Stdout, conn, `SELECT base_schema, base_view, tier_count, dirty_entries, dirty_scopes,
		dirty_seconds, oldest_dirty_ts, newest_dirty_ts, lag FROM spiral.status ORDER BY 1, 2`); err != nil {
		return err
	}
	if err := printFailures(ctx, os.Stdout, conn); err != nil || !*scopes {
		return err
	}
	fmt.Println()
	return printQuery(ctx, os.Stdout, conn, `SELECT base_schema, base_view, scope_values, dirty_entries, dirty_seconds,
		oldest_dirty_ts, lag FROM spiral.scope_status ORDER BY 1, 2, lag DESC`)
}

// printFailures prints spiral.failed_ranges when it has rows.
func printFailures(ctx context.Context, w io.Writer, conn *pgx.Conn) error {
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM spiral.failed_ranges`).Scan(&n); err != nil || n == 0 {
		return err
	}
	fmt.Fprintf(w, "\n%d dirty range(s) could not be recomputed; they are read from the raw table (spiral.failed_ranges):\n", n)
	return printQuery(ctx, w, conn, `SELECT base_schema, base_view, range_start, range_end, scope_values,
		failures, sqlstate, error, retry_at FROM spiral.failed_ranges ORDER BY 1, 2, 3`)
}

// printQuery prints a query's result as an aligned table.
func printQuery(ctx context.Context, w io.Writer, conn *pgx.Conn, sql string) error {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return err
	}
	defer rows.Close()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range rows.FieldDescriptions() {
		fmt.Fprintf(tw, "%s\t", f.Name)
	}
	fmt.Fprintln(tw)
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return err
		}
		for _, v := range vals {
			switch v.(type) {
			case nil:
				v = ""
			case map[string]any, []any: // jsonb
				b, err := json.Marshal(v)
				if err != nil {
					return err
				}
				v = string(b)
			}
			fmt.Fprintf(tw, "%v\t", v)
		}
		fmt.Fprintln(tw)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return tw.Flush()
}
