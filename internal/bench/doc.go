// Package bench holds the benchmarks that `make bench` runs. Each one
// measures spiral side by side with a baseline in the same run, reports
// ratios and prints a table; cmd/spiral-bench only parses flags and calls
// in here.
//
// It starts and stops everything it measures (a throw-away PostgreSQL,
// PgBouncer, spiral) and must leave nothing running. It never asserts
// timings: its figures are printed for people to read, not tested.
package bench
