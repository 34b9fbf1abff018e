package stats

import "math"

// The finishers below return (value, ok); ok == false stands for SQL NULL.
// They reproduce PostgreSQL's float8 aggregates given the same inputs, up to
// rounding: avg is Σx/N there and M1 here; the variances are Sxx/N and
// Sxx/(N−1) there (Youngs–Cramer Sxx) and M2/N and M2/(N−1) here.

// Avg is avg(x): NULL for no rows.
func (m Moments) Avg() (float64, bool) {
	if m.N == 0 {
		return 0, false
	}
	return m.M1, true
}

// VarPop is var_pop(x) = M2/N: NULL for no rows.
func (m Moments) VarPop() (float64, bool) {
	if m.N == 0 {
		return 0, false
	}
	return m.M2 / float64(m.N), true
}

// VarSamp is var_samp(x) (and variance(x)) = M2/(N−1): NULL for fewer than
// two rows.
func (m Moments) VarSamp() (float64, bool) {
	if m.N <= 1 {
		return 0, false
	}
	return m.M2 / float64(m.N-1), true
}

// StddevPop is stddev_pop(x) = sqrt(VarPop).
func (m Moments) StddevPop() (float64, bool) {
	v, ok := m.VarPop()
	return math.Sqrt(v), ok
}

// StddevSamp is stddev_samp(x) (and stddev(x)) = sqrt(VarSamp).
func (m Moments) StddevSamp() (float64, bool) {
	v, ok := m.VarSamp()
	return math.Sqrt(v), ok
}

// Skewness is the population skewness g1 = sqrt(N)·M3 / M2^(3/2). It is NULL
// for no rows and when M2 = 0 (all values equal), where it is undefined.
func (m Moments) Skewness() (float64, bool) {
	if m.N == 0 || m.M2 == 0 {
		return 0, false
	}
	n := float64(m.N)
	return math.Sqrt(n) * m.M3 / (m.M2 * math.Sqrt(m.M2)), true
}

// Kurtosis is the population excess kurtosis g2 = N·M4 / M2² − 3. It is
// NULL for no rows and when M2 = 0.
func (m Moments) Kurtosis() (float64, bool) {
	if m.N == 0 || m.M2 == 0 {
		return 0, false
	}
	n := float64(m.N)
	return n*m.M4/(m.M2*m.M2) - 3, true
}
