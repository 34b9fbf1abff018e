package stats

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// momentsKeys are the JSON keys of a Moments state in the order written,
// which is also the order jsonb prints them in.
var momentsKeys = [5]string{"n", "m1", "m2", "m3", "m4"}

// MarshalJSON returns {"n":N,"m1":M1,"m2":M2,"m3":M3,"m4":M4}. Finite floats
// are JSON numbers in shortest round-trip form; NaN and the infinities, which
// JSON numbers cannot hold, are the strings "NaN", "Infinity" and
// "-Infinity" — what PostgreSQL's to_jsonb(float8) produces for them.
func (m Moments) MarshalJSON() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("encode moments: %w", err)
	}
	b := make([]byte, 0, 128)
	b = append(b, `{"n":`...)
	b = strconv.AppendInt(b, m.N, 10)
	for i, f := range [4]float64{m.M1, m.M2, m.M3, m.M4} {
		b = append(b, `,"`...)
		b = append(b, momentsKeys[i+1]...)
		b = append(b, `":`...)
		b = appendJSONFloat(b, f)
	}
	return append(b, '}'), nil
}

func appendJSONFloat(b []byte, f float64) []byte {
	if isFinite(f) {
		return AppendFloat8(b, f)
	}
	b = append(b, '"')
	b = AppendFloat8(b, f)
	return append(b, '"')
}

// UnmarshalJSON parses the object written by MarshalJSON, in any key order
// and spacing (as jsonb prints it). Every key must appear exactly once and
// no other key is allowed; floats are JSON numbers or one of the strings
// "NaN", "Infinity", "-Infinity".
func (m *Moments) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	vals, err := readMomentsObject(dec)
	if err != nil {
		return fmt.Errorf("decode moments: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("decode moments: %w: data after object", ErrInvalidMoments)
	}
	return m.fromJSONValues(vals)
}

// readMomentsObject reads one JSON object of scalar values keyed by
// momentsKeys, rejecting unknown and repeated keys.
func readMomentsObject(dec *json.Decoder) (map[string]any, error) {
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("%w: want a JSON object", ErrInvalidMoments)
	}
	vals := make(map[string]any, 5)
	for dec.More() {
		k, err := dec.Token()
		key, _ := k.(string)
		if err != nil || !isMomentsKey(key) {
			return nil, fmt.Errorf("%w: unexpected key %v", ErrInvalidMoments, k)
		}
		if _, dup := vals[key]; dup {
			return nil, fmt.Errorf("%w: repeated key %q", ErrInvalidMoments, key)
		}
		v, err := dec.Token()
		if _, nested := v.(json.Delim); err != nil || nested {
			return nil, fmt.Errorf("%w: key %q needs a scalar value", ErrInvalidMoments, key)
		}
		vals[key] = v
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidMoments, err)
	}
	return vals, nil
}

func isMomentsKey(k string) bool {
	for _, mk := range momentsKeys {
		if k == mk {
			return true
		}
	}
	return false
}

func (m *Moments) fromJSONValues(vals map[string]any) error {
	if len(vals) != len(momentsKeys) {
		return fmt.Errorf("decode moments: %w: want keys n, m1, m2, m3, m4", ErrInvalidMoments)
	}
	num, ok := vals["n"].(json.Number)
	n, err := strconv.ParseInt(string(num), 10, 64)
	if !ok || err != nil {
		return fmt.Errorf("decode moments: %w: n must be an integer", ErrInvalidMoments)
	}
	var f [4]float64
	for i := range f {
		if f[i], err = jsonFloat(vals[momentsKeys[i+1]]); err != nil {
			return fmt.Errorf("decode moments: %s: %w", momentsKeys[i+1], err)
		}
	}
	return m.set(Moments{N: n, M1: f[0], M2: f[1], M3: f[2], M4: f[3]})
}

// jsonFloat converts a JSON number, or one of the strings "NaN", "Infinity"
// and "-Infinity", to a float64.
func jsonFloat(v any) (float64, error) {
	switch v := v.(type) {
	case json.Number:
		return ParseFloat8(string(v))
	case string:
		if v == "NaN" || v == "Infinity" || v == "-Infinity" {
			return ParseFloat8(v)
		}
	}
	return 0, fmt.Errorf("%w: %v", ErrFloat8Syntax, v)
}
