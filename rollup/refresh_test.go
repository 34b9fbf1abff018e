package rollup

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
)

// vacuumCounter is a Marks whose Vacuum counts its calls and fails.
type vacuumCounter struct {
	Marks
	calls int
}

func (v *vacuumCounter) Vacuum(context.Context, *pgx.Conn) error {
	v.calls++
	return errors.New("vacuum failed")
}

// TestVacuumIfDue: the changelog is vacuumed each time VacuumAfter marks
// have been removed, a failed vacuum does not stop the counting, and a
// negative VacuumAfter never vacuums.
func TestVacuumIfDue(t *testing.T) {
	m := &vacuumCounter{}
	r := &Refresher{Marks: m, VacuumAfter: 100}
	for _, removed := range []int{60, 30, 10, 99, 1, 250} {
		r.vacuumIfDue(context.Background(), nil, removed)
	}
	if m.calls != 3 {
		t.Errorf("%d vacuums after removing 100, 100 and 250 marks in steps, want 3", m.calls)
	}
	never := &vacuumCounter{}
	(&Refresher{Marks: never, VacuumAfter: -1}).vacuumIfDue(context.Background(), nil, 1e6)
	if never.calls != 0 {
		t.Errorf("VacuumAfter -1: %d vacuums", never.calls)
	}
}
