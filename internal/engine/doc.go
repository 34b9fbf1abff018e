// Package engine wires rewrite, rollup and changelog behind proxy.Hook: it
// classifies each statement, turns spiral DDL into the one DO block that
// creates a tracked table, runs spiral_refresh on the daemon's own
// connections, and owns the background worker. It holds no SQL logic of its
// own beyond assembling what those packages generate.
package engine
