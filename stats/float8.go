package stats

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ErrFloat8Syntax reports text that is not a float8 in PostgreSQL's syntax.
var ErrFloat8Syntax = errors.New("stats: invalid float8 text")

// AppendFloat8 appends f as PostgreSQL's float8out prints it with
// extra_float_digits ≥ 1 (the default since PostgreSQL 12): the shortest
// decimal that reads back to the same bits, in fixed notation when the
// decimal exponent is in [-4, 15) and as d.ddde±XX otherwise; NaN, Infinity
// and -Infinity for the special values.
func AppendFloat8(b []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, 1):
		return append(b, "Infinity"...)
	case math.IsInf(f, -1):
		return append(b, "-Infinity"...)
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, 'e', -1, 64)
	if exp := decimalExponent(b[start:]); exp < -4 || exp >= 15 {
		return b
	}
	return strconv.AppendFloat(b[:start], f, 'f', -1, 64)
}

// decimalExponent reads the exponent of a number formatted as d.ddde±XX.
func decimalExponent(e []byte) int {
	i := bytes.LastIndexByte(e, 'e')
	exp := 0
	for _, c := range e[i+2:] {
		exp = exp*10 + int(c-'0')
	}
	if e[i+1] == '-' {
		return -exp
	}
	return exp
}

// ParseFloat8 parses float8 text as PostgreSQL's float8in does: decimal
// notation with optional exponent, surrounding spaces, and the special
// values NaN, Infinity, -Infinity, inf, -inf in any case. Values that
// overflow float64 are errors, as in PostgreSQL.
func ParseFloat8(s string) (float64, error) {
	t := strings.TrimSpace(s)
	switch strings.ToLower(t) {
	case "nan", "+nan", "-nan":
		return math.NaN(), nil
	case "infinity", "+infinity", "inf", "+inf":
		return math.Inf(1), nil
	case "-infinity", "-inf":
		return math.Inf(-1), nil
	}
	if t == "" || strings.ContainsAny(t, "xXpP_nNiI") {
		return 0, fmt.Errorf("%w: %q", ErrFloat8Syntax, s)
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || (f == 0 && underflows(t)) {
		return 0, fmt.Errorf("%w: %q out of range or malformed", ErrFloat8Syntax, s)
	}
	return f, nil
}

// underflows reports whether decimal text that parsed to zero has a non-zero
// digit in its mantissa, which float8in rejects as out of range.
func underflows(t string) bool {
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		t = t[:i]
	}
	return strings.ContainsAny(t, "123456789")
}
