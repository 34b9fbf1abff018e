package stats

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

// sampleStates are states every codec must round-trip bit for bit.
func sampleStates() map[string]Moments {
	inf := math.Inf(1)
	return map[string]Moments{
		"empty":        {},
		"one":          onePass([]float64{-2.5}),
		"1..4":         onePass([]float64{1, 2, 3, 4}),
		"offset":       onePass([]float64{1e9 + 0.1, 1e9 - 0.3, 1e9 + 1e-7}),
		"tiny":         onePass([]float64{5e-324, 1e-310, 2e-308}),
		"huge":         onePass([]float64{1e300, -1e300, 1.7e308}),
		"+Inf":         onePass([]float64{1, inf}),
		"-Inf":         onePass([]float64{-inf}),
		"NaN":          onePass([]float64{math.NaN(), 3}),
		"neg zero m1":  {N: 1, M1: math.Copysign(0, -1)},
		"m2 overflow":  onePass([]float64{1e200, -1e200}),
		"max count":    {N: MaxCount, M1: 1, M2: 2, M3: -3, M4: 4},
		"random":       onePass(sample(rand.New(rand.NewPCG(1, 1)), datasets[5], 100)),
		"random ints":  onePass(sample(rand.New(rand.NewPCG(2, 1)), datasets[7], 1000)),
		"random epoch": onePass(sample(rand.New(rand.NewPCG(3, 1)), datasets[4], 1000)),
	}
}

func TestMomentsCodecsRoundTrip(t *testing.T) {
	for name, m := range sampleStates() {
		t.Run(name, func(t *testing.T) {
			if err := m.Validate(); err != nil {
				t.Fatalf("sample state invalid: %v", err)
			}
			bin, err := m.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			txt, err := m.MarshalText()
			if err != nil {
				t.Fatal(err)
			}
			js, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			var fromBin, fromTxt, fromJS Moments
			if err := fromBin.UnmarshalBinary(bin); err != nil || !sameMoments(fromBin, m) {
				t.Errorf("binary %x -> %v, %v; want %v", bin, fromBin, err, m)
			}
			if err := fromTxt.UnmarshalText(txt); err != nil || !sameMoments(fromTxt, m) {
				t.Errorf("text %s -> %v, %v; want %v", txt, fromTxt, err, m)
			}
			if err := json.Unmarshal(js, &fromJS); err != nil || !sameMoments(fromJS, m) {
				t.Errorf("json %s -> %v, %v; want %v", js, fromJS, err, m)
			}
		})
	}
}

// TestMomentsGoldenEncodings freezes the three layouts.
func TestMomentsGoldenEncodings(t *testing.T) {
	for _, c := range []struct {
		m             Moments
		text, js, bin string
	}{
		{Moments{}, "(0,0,0,0,0)", `{"n":0,"m1":0,"m2":0,"m3":0,"m4":0}`,
			"0100" + "0000000000000000" + "0000000000000000" + "0000000000000000" + "0000000000000000"},
		{onePass([]float64{1, 2, 3, 4}), "(4,2.5,5,0,10.25)", `{"n":4,"m1":2.5,"m2":5,"m3":0,"m4":10.25}`,
			"0104" + "0000000000000440" + "0000000000001440" + "0000000000000000" + "0000000000802440"},
		{onePass([]float64{1e20, math.Inf(1)}), "(2,Infinity,NaN,NaN,NaN)",
			`{"n":2,"m1":"Infinity","m2":"NaN","m3":"NaN","m4":"NaN"}`,
			"0102" + "000000000000f07f" + "010000000000f87f" + "010000000000f87f" + "010000000000f87f"},
		{Moments{N: 300, M1: -1.5e-7, M2: 1e15, M3: -2, M4: 1e300}, "(300,-1.5e-07,1e+15,-2,1e+300)",
			`{"n":300,"m1":-1.5e-07,"m2":1e+15,"m3":-2,"m4":1e+300}`, ""},
	} {
		t.Run(c.text, func(t *testing.T) {
			if got := c.m.String(); got != c.text {
				t.Errorf("text = %s, want %s", got, c.text)
			}
			if got, _ := json.Marshal(c.m); string(got) != c.js {
				t.Errorf("json = %s, want %s", got, c.js)
			}
			if got, _ := c.m.MarshalBinary(); c.bin != "" && hex.EncodeToString(got) != c.bin {
				t.Errorf("binary = %x, want %s", got, c.bin)
			}
		})
	}
}

// TestMomentsParsePostgresForms feeds the forms PostgreSQL prints: record
// output, record input variants, and jsonb output (spaced, numeric without
// exponent).
func TestMomentsParsePostgresForms(t *testing.T) {
	want := Moments{N: 3, M1: 1e20, M2: 2, M3: 0, M4: math.NaN()}
	for _, in := range []string{
		"(3,1e+20,2,0,NaN)",
		`( 3 , "1e+20",2.0, 0 ,"NaN")`,
		"(3,100000000000000000000,2,0e0,nan)",
	} {
		var m Moments
		if err := m.UnmarshalText([]byte(in)); err != nil || !sameMoments(m, want.canon()) {
			t.Errorf("UnmarshalText(%s) = %v, %v", in, m, err)
		}
	}
	for _, in := range []string{
		`{"n": 3, "m1": 100000000000000000000, "m2": 2, "m3": 0, "m4": "NaN"}`,
		` {"m4":"NaN","m3":0.0,"m2":2e0,"m1":1e20,"n":3} `,
	} {
		var m Moments
		if err := json.Unmarshal([]byte(in), &m); err != nil || !sameMoments(m, want.canon()) {
			t.Errorf("UnmarshalJSON(%s) = %v, %v", in, m, err)
		}
	}
}

func TestMomentsDecodeErrors(t *testing.T) {
	for _, in := range []string{
		"", "()", "(1,2,3,4)", "(1,2,3,4,5,6)", "1,2,3,4,5", "(1,2,3,4,5",
		"(x,0,0,0,0)", "(1.5,1,0,0,0)", "(-1,0,0,0,0)", "(9007199254740993,0,0,0,0)",
		"(0,1,0,0,0)", "(2,1,-1,0,0)", "(2,1,1,0,-1)", "(2,Infinity,0,0,0)",
		"(1,0x10,0,0,0)", "(1,1e400,0,0,0)", "(1,,0,0,0)", "(1,1,0,0,0)x",
	} {
		var m Moments
		if err := m.UnmarshalText([]byte(in)); err == nil {
			t.Errorf("UnmarshalText(%q) = %v, want an error", in, m)
		}
	}
	for _, in := range []string{
		``, `{}`, `[]`, `null`, `{"n":1,"m1":1,"m2":0,"m3":0}`,
		`{"n":1,"m1":1,"m2":0,"m3":0,"m4":0,"m5":0}`,
		`{"n":1,"n":1,"m1":1,"m2":0,"m3":0,"m4":0}`,
		`{"n":1.0,"m1":1,"m2":0,"m3":0,"m4":0}`,
		`{"n":"1","m1":1,"m2":0,"m3":0,"m4":0}`,
		`{"n":1,"m1":"nan","m2":0,"m3":0,"m4":0}`,
		`{"n":1,"m1":{"a":1},"m2":0,"m3":0,"m4":0}`,
		`{"n":1,"m1":[1],"m2":0,"m3":0,"m4":0}`,
		`{"n":1,"m1":null,"m2":0,"m3":0,"m4":0}`,
		`{"n":1,"m1":1e999,"m2":0,"m3":0,"m4":0}`,
		`{"n":1,"m1":1,"m2":-1,"m3":0,"m4":0}`,
		`{"n":1,"m1":1,"m2":0,"m3":0,"m4":0} {}`,
		`{"n":1,"m1":1,"m2":0,"m3":0,"m4":0`,
	} {
		var m Moments
		if err := m.UnmarshalJSON([]byte(in)); err == nil {
			t.Errorf("UnmarshalJSON(%q) = %v, want an error", in, m)
		}
	}
	good, _ := onePass([]float64{1, 2}).MarshalBinary()
	for name, in := range map[string][]byte{
		"empty":         nil,
		"version 0":     append([]byte{0}, good[1:]...),
		"version 2":     append([]byte{2}, good[1:]...),
		"short":         good[:len(good)-1],
		"trailing":      append(append([]byte{}, good...), 0),
		"bad varint":    append([]byte{1}, bytes.Repeat([]byte{0xff}, 11)...),
		"huge n":        append([]byte{1, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x10}, make([]byte, 32)...),
		"empty nonzero": append([]byte{1, 0}, good[2:]...),
	} {
		var m Moments
		if err := m.UnmarshalBinary(in); err == nil {
			t.Errorf("UnmarshalBinary(%s: %x) = %v, want an error", name, in, m)
		}
	}
}

func TestMomentsDecodeErrorKinds(t *testing.T) {
	var m Moments
	if err := m.UnmarshalBinary([]byte{9}); !errors.Is(err, ErrVersion) {
		t.Errorf("bad version: %v, want ErrVersion", err)
	}
	if err := m.UnmarshalBinary([]byte{1, 2, 0}); !errors.Is(err, ErrTruncated) {
		t.Errorf("short input: %v, want ErrTruncated", err)
	}
	if err := m.UnmarshalText([]byte("(-1,0,0,0,0)")); !errors.Is(err, ErrInvalidMoments) {
		t.Errorf("negative n: %v, want ErrInvalidMoments", err)
	}
	before := onePass([]float64{1, 2, 3})
	m = before
	if err := m.UnmarshalText([]byte("(2,1,-1,0,0)")); err == nil || !sameMoments(m, before) {
		t.Errorf("failed decode changed the state: %v, %v", m, err)
	}
	if _, err := (Moments{N: -1}).MarshalBinary(); !errors.Is(err, ErrInvalidMoments) {
		t.Errorf("encoding an invalid state: %v, want ErrInvalidMoments", err)
	}
}

func BenchmarkMomentsEncodeBinary(b *testing.B) {
	m := onePass([]float64{1, 2, 3.5, 1e9})
	buf := make([]byte, 0, 64)
	for b.Loop() {
		buf, _ = m.AppendBinary(buf[:0])
	}
}

func BenchmarkMomentsDecodeBinary(b *testing.B) {
	enc, _ := onePass([]float64{1, 2, 3.5, 1e9}).MarshalBinary()
	var m Moments
	for b.Loop() {
		if err := m.UnmarshalBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMomentsEncodeText(b *testing.B) {
	m := onePass([]float64{1, 2, 3.5, 1e9})
	for b.Loop() {
		_, _ = m.MarshalText()
	}
}

func BenchmarkMomentsDecodeText(b *testing.B) {
	enc, _ := onePass([]float64{1, 2, 3.5, 1e9}).MarshalText()
	var m Moments
	for b.Loop() {
		if err := m.UnmarshalText(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMomentsDecodeJSON(b *testing.B) {
	enc, _ := onePass([]float64{1, 2, 3.5, 1e9}).MarshalJSON()
	var m Moments
	for b.Loop() {
		if err := m.UnmarshalJSON(enc); err != nil {
			b.Fatal(err)
		}
	}
}
