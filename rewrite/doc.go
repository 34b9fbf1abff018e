// Package rewrite turns aggregate queries over tracked tables into plans over
// clean rollup tiers and dirty raw ranges.
//
// It is pure: SQL text, a catalog, a dirty set and session settings go in;
// SQL text and any proxy-side finishing come out. It performs no I/O and does
// not log; failures are returned as errors, and a caller that gets one runs the
// original statement unchanged.
//
// It also recognises the statements the proxy answers itself (Classify):
// CREATE TABLE ... WITH (spiral.*) with its `-- Spiral: kind` column
// comments, ALTER TABLE ... SET (spiral.*) and SELECT spiral_refresh(...),
// and parses scope predicates (ParseScope). Bad spiral input is refused
// with a *pgerr.Error that says what to fix; these are the exception to
// "run the original unchanged", since PostgreSQL would reject the statement
// with a less useful error. Values taken from SQL text are returned as data,
// never pasted back into SQL.
package rewrite
