// Package rollup owns tier specifications (frames, calendar units, time
// zones), the DDL that creates tier tables, the refresh engine that recomputes
// dirty buckets, and the background worker loop that drives it.
//
// It talks to the changelog through the narrow interface it declares, and to
// the statistical states through package stats. It does not parse client SQL.
package rollup
