// Package changelog owns the spiral schema in PostgreSQL and its migrations:
// the triggers that record dirty (bucket, tenant) marks, claiming and
// acknowledging those marks, and the status views operators read.
//
// A mark is removed only by the refresh that recomputed its bucket; nothing in
// this package deletes a mark on its own.
package changelog
