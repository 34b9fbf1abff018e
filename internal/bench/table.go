package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// The places pgbench connects to, in table order.
const (
	direct = iota
	viaPgBouncer
	viaSpiral
	viaRelay
	numTargets
)

var targetNames = [numTargets]string{"direct", "pgbouncer", "spiral", "go-relay"}

// targetClients is the client count the target figure is stated for.
const targetClients = 8

// cell is one pgbench configuration, run against every target each round.
type cell struct {
	mode    string // pgbench -M: simple or prepared
	clients int
}

// samples holds each round's result, per cell and target.
type samples map[cell]*[numTargets][]pgbenchResult

func (s samples) add(c cell, target int, r pgbenchResult) {
	if s[c] == nil {
		s[c] = new([numTargets][]pgbenchResult)
	}
	s[c][target] = append(s[c][target], r)
}

func (s samples) tps(c cell, target int) float64 {
	return median(s[c][target], func(r pgbenchResult) float64 { return r.tps })
}

func (s samples) latency(c cell, target int) float64 {
	return median(s[c][target], func(r pgbenchResult) float64 { return r.latencyMS })
}

// ratio is the ratio of the median TPS of two targets.
func (s samples) ratio(c cell, num, den int) float64 {
	return s.tps(c, num) / s.tps(c, den)
}

// roundRatios are the TPS ratios of two targets within each round.
func (s samples) roundRatios(c cell, num, den int) []float64 {
	a, b := s[c][num], s[c][den]
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = a[i].tps / b[i].tps
	}
	return out
}

// median of f over rs; the mean of the middle two for an even count.
func median(rs []pgbenchResult, f func(pgbenchResult) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	xs := make([]float64, len(rs))
	for i, r := range rs {
		xs[i] = f(r)
	}
	slices.Sort(xs)
	m := len(xs) / 2
	if len(xs)%2 == 0 {
		return (xs[m-1] + xs[m]) / 2
	}
	return xs[m]
}

// runInfo is what the table header says about the run.
type runInfo struct {
	duration       time.Duration
	rounds, scale  int
	cpus           int
	postgres       string
	pgbench        string
	pgbouncer      string
	spiral, binary string
	goVersion      string // of this binary, which runs the go-relay
}

// writeTable prints the medians over rounds, one row per cell, and how the
// run did against the target.
func writeTable(w io.Writer, info runInfo, cells []cell, s samples) error {
	fmt.Fprintf(w, "pgbench -S (select-only), %s per cell, median of %d rounds, scale %d, -j min(clients,2), one connection per client\n",
		info.duration, info.rounds, info.scale)
	fmt.Fprintf(w, "PostgreSQL %s; %s; %s (pool_mode=session, pool %d); spiral %s (%s); %d CPUs shared by all\n",
		info.postgres, info.pgbench, info.pgbouncer, pgbouncerPool, info.spiral, info.binary, info.cpus)
	fmt.Fprintf(w, "go-relay: a bare Go TCP relay (io.Copy both ways, no protocol decoding), %s\n\n", info.goVersion)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "mode\tclients\tdirect tps\tpgbouncer tps\tspiral tps\tgo-relay tps\tdirect ms\tpgbouncer ms\tspiral ms\tspiral/pgbouncer\tspiral/direct\tspiral/go-relay\tspiral/pgbouncer by round\t")
	for _, c := range cells {
		fmt.Fprintf(tw, "%s\t%d\t%.0f\t%.0f\t%.0f\t%.0f\t%.3f\t%.3f\t%.3f\t%.2fx\t%.2fx\t%.2fx\t%s\t\n",
			c.mode, c.clients,
			s.tps(c, direct), s.tps(c, viaPgBouncer), s.tps(c, viaSpiral), s.tps(c, viaRelay),
			s.latency(c, direct), s.latency(c, viaPgBouncer), s.latency(c, viaSpiral),
			s.ratio(c, viaSpiral, viaPgBouncer), s.ratio(c, viaSpiral, direct), s.ratio(c, viaSpiral, viaRelay),
			formatRatios(s.roundRatios(c, viaSpiral, viaPgBouncer)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\ntarget: spiral/pgbouncer >= 1.00x TPS at %d clients: %s\n", targetClients, verdicts(cells, s))
	return err
}

func formatRatios(rs []float64) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = fmt.Sprintf("%.2f", r)
	}
	return strings.Join(parts, " ")
}

// verdicts says, per mode, whether spiral reached PgBouncer's TPS at
// targetClients.
func verdicts(cells []cell, s samples) string {
	var parts []string
	for _, c := range cells {
		if c.clients != targetClients {
			continue
		}
		r := s.ratio(c, viaSpiral, viaPgBouncer)
		verdict := "met"
		if r < 1 {
			verdict = "MISSED"
		}
		parts = append(parts, fmt.Sprintf("%s %.3fx %s", c.mode, r, verdict))
	}
	return strings.Join(parts, ", ")
}
