package bench

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
)

// backlogLate inserts the late rows of the backlog phase: one row per
// tenant at minute 17 of each of the last $2 hours before $1, so that
// every tenant has one dirty minute in each of those hours (and their
// days) while the rest of the tiers stay clean.
const backlogLate = `INSERT INTO ticks (t, sym, price, vol)
SELECT $1::timestamptz - make_interval(hours => h) + interval '17 minutes', s, 100, 1
FROM generate_series(1, $2::int) AS h, generate_series(1, $3::int) AS s`

// backlogSteps are the backlog phase's steps, each on top of the one
// before: the late rows of the last hour (a worker an hour behind), then
// of each of the last 24.
var backlogSteps = []int{1, 24}

// backlogResult is one backlog step's figures.
type backlogResult struct {
	hours   int
	results []rewriteResult
}

// backlog writes late rows directly (the triggers mark them dirty; no
// worker runs in the benchmark) and runs the queries again, raw and
// through spiral: the hand-written tier queries would read stale tiers.
func (e *rewriteEnv) backlog(ctx context.Context, opts RewriteOptions) ([]backlogResult, error) {
	end := opts.rewriteEnd()
	var out []backlogResult
	for _, hours := range backlogSteps {
		if _, err := e.direct.Exec(ctx, backlogLate, end, hours, opts.Tenants); err != nil {
			return nil, fmt.Errorf("backlog: late rows: %w", err)
		}
		step := backlogResult{hours: hours}
		for _, q := range rewriteQueries(end, opts.Days) {
			r, err := e.queryOn(ctx, q, opts.Runs, proxyTarget+1) // raw and proxy
			if err != nil {
				return nil, fmt.Errorf("backlog: query %s: %w", q.name, err)
			}
			fmt.Fprintf(opts.Log, "bench: backlog %2dh query %-32s raw %9.2f ms  proxy %9.2f ms  proxy=raw %s\n",
				hours, q.name, r.median(rawTarget), r.median(proxyTarget), sameWord(r.proxyDiff))
			step.results = append(step.results, r)
		}
		out = append(out, step)
	}
	return out, nil
}

// writeBacklogTable prints the backlog phase's table and any mismatch.
func writeBacklogTable(w io.Writer, opts RewriteOptions, steps []backlogResult) error {
	fmt.Fprintf(w, "\nUnder a backlog: late rows inserted directly and not refreshed, one per tenant at minute 17 of each of the last N hours (N = %v, each step on top of the one before; %d tenants: N*%d dirty (minute, tenant) marks); the queries again, raw and through spiral, as above\n\n",
		backlogSteps, opts.Tenants, opts.Tenants)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "late hours\tquery\trows\traw ms\tproxy ms\traw/proxy\tproxy=raw\t")
	for _, st := range steps {
		for _, r := range st.results {
			fmt.Fprintf(tw, "%d\t%s\t%d\t%.2f\t%.2f\t%.1fx\t%s\t\n", st.hours, r.q.name, r.rows,
				r.median(rawTarget), r.median(proxyTarget), r.speedup(), sameWord(r.proxyDiff))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, st := range steps {
		writeMismatches(w, st.results)
	}
	return nil
}
