package pgtest

import (
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestDBName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]+(_[a-z0-9]+)*_[0-9a-f]{8}$`)
	for _, tc := range []struct{ test, prefix string }{
		{"TestFoo", "testfoo_"},
		{"TestFoo/sub case#01", "testfoo_sub_case_01_"},
		{"Test__x--y", "test_x_y_"},
		{"///", "test_"},
		{"Тест", "test_"},
		{strings.Repeat("TestVeryLong/", 10), "testverylong_"},
	} {
		t.Run(tc.test, func(t *testing.T) {
			got := dbName(tc.test)
			if len(got) > maxIdentLen || !valid.MatchString(got) || !strings.HasPrefix(got, tc.prefix) {
				t.Fatalf("dbName(%q) = %q (%d bytes), want prefix %q, ≤ 63 bytes, [a-z0-9_]", tc.test, got, len(got), tc.prefix)
			}
		})
	}
	if dbName("TestX") == dbName("TestX") {
		t.Fatal("dbName gave the same name twice")
	}
}

func TestWithDatabase(t *testing.T) {
	for _, dsn := range []string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
		"postgresql://u:p%40ss@h:1/other?dbname=zzz&sslmode=disable",
		"host=127.0.0.1 port=5432 user=postgres dbname=postgres sslmode=disable",
		"host=127.0.0.1 user=postgres",
	} {
		t.Run(dsn, func(t *testing.T) {
			out, err := WithDatabase(dsn, "db_1")
			if err != nil {
				t.Fatal(err)
			}
			before, err1 := pgconn.ParseConfig(dsn)
			after, err2 := pgconn.ParseConfig(out)
			if err1 != nil || err2 != nil {
				t.Fatalf("parse: %v, %v", err1, err2)
			}
			if after.Database != "db_1" || after.Host != before.Host || after.Port != before.Port ||
				after.User != before.User || after.Password != before.Password {
				t.Fatalf("WithDatabase(%q) = %q: db %q host %q port %d user %q", dsn, out, after.Database, after.Host, after.Port, after.User)
			}
		})
	}
}
