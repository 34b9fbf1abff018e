package pgtest_test

import (
	"os"
	"testing"

	"spiral/internal/pgtest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }
