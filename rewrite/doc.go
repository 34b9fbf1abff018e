// Package rewrite turns aggregate queries over tracked tables into plans over
// clean rollup tiers and dirty raw ranges.
//
// It is pure: SQL text, a catalog, a dirty set and session settings go in;
// SQL text and any proxy-side finishing come out. It performs no I/O and does
// not log; failures are returned as errors, and a caller that gets one runs the
// original statement unchanged.
package rewrite
