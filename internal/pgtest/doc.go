// Package pgtest is the test harness for packages that need a real
// PostgreSQL: one throw-away cluster per test binary, started from TestMain,
// and a fresh database per test. SPIRAL_TEST_DSN points it at an existing
// server instead (PostgreSQL 13 or later, for DROP DATABASE ... WITH (FORCE)).
//
// Usage:
//
//	func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.NewDB(t)
//		pgtest.Exec(t, dsn, "CREATE TABLE t (x int)")
//	}
//
// The cluster and its DSN are the only package-level state, inherent to
// TestMain. Without a server or PostgreSQL binaries, Main fails loudly; it
// never skips.
package pgtest
