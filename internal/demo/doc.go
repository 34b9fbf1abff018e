// Package demo owns the demo dataset `spiral demo` loads: a ticks table of
// synthetic prices and volumes for a handful of symbols.
package demo
