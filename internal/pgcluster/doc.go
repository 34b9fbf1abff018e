// Package pgcluster starts and stops a private PostgreSQL cluster: initdb into
// a data directory, a free TCP port on 127.0.0.1, its own socket directory.
// When the process runs as root the server runs as the postgres system user.
//
// It is shared by the test harness (internal/pgtest) and `spiral demo`.
//
// The postmaster runs as a child of this process, in its own session, with
// its output appended to a log file. A small watchdog shell process stops the
// server and removes the temporary directories if this process dies without
// calling Stop (a panic, a test timeout, SIGKILL).
//
// It must not know anything about spiral's schema or the proxy: it only
// manages the server process and its files.
package pgcluster
