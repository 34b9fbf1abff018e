package rewrite

import (
	"encoding/binary"
	"encoding/hex"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"spiral/internal/pgerr"
	"spiral/rollup"
	"spiral/stats"
)

// pack builds what a rewritten statement sends: the argument, then the
// framed states and raw values.
func pack(arg []byte, states [][]byte, values []float64) []byte {
	b := append([]byte(nil), arg...)
	for _, s := range states {
		b = append(b, 'S')
		b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	for _, v := range values {
		b = append(b, 'V')
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
	}
	return []byte(hex.EncodeToString(b))
}

func scalarArg(q float64) []byte {
	return binary.BigEndian.AppendUint64([]byte{1}, math.Float64bits(q))
}

func arrayArg(qs ...*float64) []byte {
	b := binary.BigEndian.AppendUint32([]byte{2}, uint32(len(qs)))
	for _, q := range qs {
		if q == nil {
			b = append(b, 0)
			continue
		}
		b = binary.BigEndian.AppendUint64(append(b, 1), math.Float64bits(*q))
	}
	return b
}

// TestFinishMergesLikeStats: a finished column answers what merging the
// same states and values with package stats answers.
func TestFinishMergesLikeStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var sketches, digests [][]byte
	all, allD := stats.NewSketch(), stats.NewTDigest() // the parts merged in order
	for part := 0; part < 5; part++ {
		s, d := stats.NewSketch(), stats.NewTDigest()
		for i := 0; i < 1000; i++ {
			x := rng.ExpFloat64() * 100
			_ = s.Add(x)
			_ = d.Add(x)
		}
		sb, _ := s.MarshalBinary()
		db, _ := d.MarshalBinary()
		sketches, digests = append(sketches, sb), append(digests, db)
		var s2 stats.Sketch
		var d2 stats.TDigest
		_, _ = s2.UnmarshalBinary(sb), d2.UnmarshalBinary(db)
		_, _ = all.Merge(&s2), allD.Merge(&d2)
	}
	raw := []float64{1, 2, 3, 1e6}
	for _, x := range raw {
		_ = all.Add(x)
		_ = allD.Add(x)
	}
	half := 0.5
	for _, c := range []struct {
		col    FinishColumn
		packed []byte
		want   string
	}{
		{FinishColumn{Kind: rollup.KindSketch}, pack(scalarArg(0.99), sketches, raw), text(all.Quantile(0.99))},
		{FinishColumn{Kind: rollup.KindTDigest}, pack(scalarArg(0.5), digests, raw), text(allD.Quantile(0.5))},
		{FinishColumn{Kind: rollup.KindTDigest, Op: OpCDF}, pack(scalarArg(100), digests, raw), text(allD.CDF(100))},
		{FinishColumn{Kind: rollup.KindSketch, Array: true}, pack(arrayArg(&half, nil), sketches, raw), "{" + text(all.Quantile(0.5)) + ",NULL}"},
		{FinishColumn{Kind: rollup.KindSketch, Array: true}, pack(arrayArg(), sketches, nil), "{}"},
	} {
		v, err := c.col.Finish(c.packed)
		if err != nil {
			t.Fatalf("%+v: %v", c.col, err)
		}
		if got := string(v.AppendText(nil)); got != c.want {
			t.Errorf("%+v: %s, want %s", c.col, got, c.want)
		}
	}
	merged := FinishColumn{Kind: rollup.KindTDigest, Op: OpMerge}
	v, err := merged.Finish(pack([]byte{0}, digests, nil))
	if err != nil {
		t.Fatal(err)
	}
	var d stats.TDigest
	if err := d.UnmarshalBinary(v.Bytes); err != nil || d.Count() != 5000 {
		t.Fatalf("merged digest: count %d, %v; want 5000", d.Count(), err)
	}
	if txt := string(v.AppendText(nil)); !strings.HasPrefix(txt, `\x`) {
		t.Fatalf("bytea text %q, want \\x hex", txt[:8])
	}
}

func text(x float64, err error) string {
	if err != nil {
		return err.Error()
	}
	return string(stats.AppendFloat8(nil, x))
}

// TestFinishBinary: the binary forms are float8send's and array_send's.
func TestFinishBinary(t *testing.T) {
	one := 1.5
	v := Value{Floats: []*float64{&one, nil}, kind: valueFloats}
	want := "00000001" + "00000001" + "000002bd" + "00000002" + "00000001" +
		"00000008" + "3ff8000000000000" + "ffffffff"
	if got := hex.EncodeToString(v.AppendBinary(nil)); got != want {
		t.Fatalf("float8[] binary %s, want %s", got, want)
	}
	if got := hex.EncodeToString(Value{Float: -2}.AppendBinary(nil)); got != "c000000000000000" {
		t.Fatalf("float8 binary %s", got)
	}
}

// TestFinishRejectsCorrupt: bad input is an XX001 error, never a panic.
func TestFinishRejectsCorrupt(t *testing.T) {
	s := stats.NewSketch()
	_ = s.Add(1)
	good, _ := s.MarshalBinary()
	d := stats.NewTDigest()
	_ = d.Add(1)
	digest, _ := d.MarshalBinary()
	col := FinishColumn{Kind: rollup.KindSketch}
	for name, packed := range map[string][]byte{
		"not hex":            []byte("zz"),
		"no argument":        []byte(""),
		"unknown tag":        pack([]byte{9}, nil, nil),
		"truncated state":    []byte(hex.EncodeToString(append(append(scalarArg(0.5), 'S', 0, 0, 0, 99), good...))),
		"garbage state":      pack(scalarArg(0.5), [][]byte{{1, 2, 3}}, nil),
		"t-digest state":     pack(scalarArg(0.5), [][]byte{digest}, nil),
		"unknown item":       []byte(hex.EncodeToString(append(scalarArg(0.5), 'X'))),
		"huge array":         []byte(hex.EncodeToString([]byte{2, 0x7f, 0xff, 0xff, 0xff})),
		"exact, wrong shape": []byte(hex.EncodeToString(append(scalarArg(0.5), 'E', 2, 0, 0, 0, 0))),
	} {
		_, err := col.Finish(packed)
		if pe := pgerr.As(err); pe == nil || pe.Code != pgerr.DataCorrupted {
			t.Errorf("%s: err %v, want XX001", name, err)
		}
	}
}

// TestFinishExactAndNaN: an exact answer PostgreSQL packed is returned as
// it is; a NaN raw value is a 22023 error naming the way out.
func TestFinishExactAndNaN(t *testing.T) {
	exact := append(scalarArg(0.5), 'E', 1)
	exact = binary.BigEndian.AppendUint64(exact, math.Float64bits(42.25))
	v, err := FinishColumn{Kind: rollup.KindTDigest}.Finish([]byte(hex.EncodeToString(exact)))
	if err != nil || string(v.AppendText(nil)) != "42.25" {
		t.Fatalf("exact answer: %v, %v", v, err)
	}
	_, err = FinishColumn{Kind: rollup.KindTDigest}.Finish(pack(scalarArg(0.5), nil, []float64{1, math.NaN()}))
	if pe := pgerr.As(err); pe == nil || pe.Code != pgerr.InvalidParameterValue {
		t.Fatalf("NaN value: %v, want 22023", err)
	}
}

func FuzzFinish(f *testing.F) {
	s := stats.NewSketch()
	_ = s.Add(3)
	good, _ := s.MarshalBinary()
	f.Add(pack(scalarArg(0.5), [][]byte{good}, []float64{1}), uint8(0))
	f.Add(pack(arrayArg(nil), [][]byte{good}, nil), uint8(1))
	f.Fuzz(func(t *testing.T, packed []byte, sel uint8) {
		col := FinishColumn{Kind: rollup.KindSketch, Op: Op(sel % 3), Array: sel&4 != 0}
		if sel&8 != 0 {
			col.Kind = rollup.KindTDigest
		}
		v, err := col.Finish(packed)
		if err == nil {
			_ = v.AppendText(nil)
			_ = v.AppendBinary(nil)
		}
	})
}
