// Package stats owns the mergeable statistical states that rollup tiers store
// and the proxy merges again at query time: Welford moments (Moments), a
// DDSketch wrapper (Sketch) and a t-digest wrapper (TDigest). For each it
// provides add, merge, the finishers, and encodings that round-trip exactly.
//
// It must not do I/O, log, or keep global state; it returns errors. Decoders
// accept untrusted bytes: they return errors, never panic, and allocate at
// most a small multiple of their input plus a fixed bound (a forged DDSketch
// with bins at both ends of the index range costs about 120 KB at 1%
// accuracy, 1.1 MB at the finest accuracy of 0.1%).
//
// # Moments
//
// A Moments state is (n, m1, m2, m3, m4): the count, the mean and the central
// sums m_k = Σ(x − m1)^k for k = 2, 3, 4. Add is Welford's update with
// Pébay's terms for m3 and m4. Merge is the pairwise formula of Chan, Golub
// and LeVeque (m2) and Pébay (m3, m4), with d = m1_b − m1_a, n = n_a + n_b:
//
//	m1 = m1_a + d·n_b/n
//	m2 = m2_a + m2_b + d²·n_a·n_b/n
//	m3 = m3_a + m3_b + d³·n_a·n_b·(n_a − n_b)/n² + 3d·(n_a·m2_b − n_b·m2_a)/n
//	m4 = m4_a + m4_b + d⁴·n_a·n_b·(n_a² − n_a·n_b + n_b²)/n³
//	     + 6d²·(n_a²·m2_b + n_b²·m2_a)/n² + 4d·(n_a·m3_b − n_b·m3_a)/n
//
// # The k-way merge (MergeAll), as SQL computes it
//
// Many parts i = 1..k merge in closed form. Every line is a plain SQL
// aggregate over the parts, so the rewriter emits it directly; MergeAll is the
// same formula in Go. Parts with n_i = 0 are left out (they contribute
// nothing and would make 0/0 when all parts are empty).
//
//	N    = Σ n_i
//	mean = p + Σ n_i·(m1_i − p) / N
//	d_i  = m1_i − mean
//	M2   = Σ (m2_i + n_i·d_i²)
//	M3   = Σ (m3_i + 3·d_i·m2_i + n_i·d_i³)
//	M4   = Σ (m4_i + 4·d_i·m3_i + 6·d_i²·m2_i + n_i·d_i⁴)
//
// p is any pivot near the means. With p = 0 the mean line is the textbook
// Σ n_i·m1_i / N; it is algebraically the same, but when every mean carries a
// large common offset (epoch timestamps, 1e9 + noise) the products n_i·m1_i
// lose the digits that the deviations d_i need. MergeAll uses the first
// non-empty part's mean; in SQL the smallest finite m1 (or 0 if there is
// none) does the same job. For example, over a tier column s of type
// spiral.moments:
//
//	WITH parts AS (SELECT (s).* FROM tier WHERE ... AND (s).n > 0),
//	g AS (SELECT sum(n) AS total,
//	             coalesce(min(m1) FILTER (WHERE abs(m1) < 'Infinity'), 0) AS p
//	      FROM parts),
//	c AS (SELECT total, p + sum(n * (m1 - p)) / total AS mean
//	      FROM parts, g GROUP BY total, p)
//	SELECT total AS n, mean AS m1,
//	       sum(m2 + n*(m1-mean)^2) AS m2,
//	       sum(m3 + 3*(m1-mean)*m2 + n*(m1-mean)^3) AS m3,
//	       sum(m4 + 4*(m1-mean)*m3 + 6*(m1-mean)^2*m2 + n*(m1-mean)^4) AS m4
//	FROM parts, c GROUP BY total, mean;
//
// On PostgreSQL 15 this query returns MergeAll's result bit for bit for the
// same parts (summation in the same order), non-finite parts included.
//
// # Finishers
//
// Avg, VarPop, VarSamp, StddevPop and StddevSamp return what PostgreSQL's
// float8 aggregates return, up to rounding, with ok = false for SQL NULL:
// avg, var_pop and stddev_pop are NULL for no rows; var_samp and stddev_samp
// for fewer than two. avg = m1, var_pop = m2/n, var_samp = m2/(n−1) (the same
// as PostgreSQL's Youngs–Cramer Sxx/N and Sxx/(N−1)). Skewness is the
// population skewness g1 = √n·m3/m2^(3/2); Kurtosis is the population excess
// kurtosis g2 = n·m4/m2² − 3; both are NULL for no rows and for m2 = 0. (The
// sample-adjusted forms, if wanted, are G1 = g1·√(n(n−1))/(n−2) and
// G2 = ((n+1)·g2 + 6)·(n−1)/((n−2)(n−3)).)
//
// # NaN and infinities in Moments
//
// Moments accepts NaN and ±Inf and follows PostgreSQL's float8_accum and
// float8_combine, so that a tier answers as the raw table does: once any input
// is non-finite, m1 is what Σx/N is in PostgreSQL — +Inf if only +Inf values
// were non-finite, −Inf likewise, NaN if a NaN or both infinities were seen —
// and m2, m3, m4 are NaN (PostgreSQL forces Sxx to NaN). So avg is ±Inf or
// NaN and every variance is NaN (var_samp of a single row is still NULL).
// Merge and MergeAll give the same state whether the non-finite values were
// added in one pass or arrived in different parts; the SQL form above does the
// same, since IEEE arithmetic on m1 and d_i carries the infinities and NaNs.
//
// Two deliberate differences from PostgreSQL remain. Where finite inputs make
// PostgreSQL's Σx or Sxx overflow it raises "value out of range: overflow";
// Moments keeps the mean finite and lets the central sums overflow to ±Inf
// (or NaN where an overflowed term meets a zero); m4 overflows first, for
// |x − mean| beyond about 1e77. And every NaN is stored as the
// one canonical NaN, so the encodings below round-trip bit for bit.
//
// Accuracy: m1 is stored as a float64, so a state cannot know the mean better
// than about ε·|mean| (ε = 2⁻⁵³). The central sums inherit a relative error of
// order ε·|mean|/σ — the condition number of the data. For well-conditioned
// data the property tests hold merge results to 1e-12 of an exact
// (big.Float) answer; for data like 1e9 + N(0, 1e-3) no float64 state can, and
// the tests hold them to a small multiple of ε·|mean|/σ instead, a bound that
// naive power sums miss by many orders of magnitude. PostgreSQL's own float8
// variance (Youngs–Cramer over Σx) has an error of the same order there.
//
// # Moments encodings
//
// All three forms round-trip every state bit for bit (NaN is canonical).
//
//   - Composite text (MarshalText, String): the text form of the PostgreSQL
//     composite type spiral.moments(n bigint, m1 float8, m2 float8, m3 float8,
//     m4 float8) as PostgreSQL prints it with extra_float_digits ≥ 1, e.g.
//     (3,2,2,0,2) or (2,Infinity,NaN,NaN,NaN). UnmarshalText also accepts the
//     quoting and spacing PostgreSQL's record input accepts.
//   - JSON (MarshalJSON): {"n":3,"m1":2,"m2":2,"m3":0,"m4":2}. Finite floats
//     are numbers in shortest round-trip form; NaN, Infinity and -Infinity are
//     JSON strings, as PostgreSQL's to_jsonb(float8) writes them. jsonb keeps
//     every number exactly but turns -0 into 0.
//   - Binary (MarshalBinary): version byte 1, n as a uvarint, then m1..m4 as
//     float64 bits, little-endian: at most 41 bytes.
//
// # Sketches
//
// Sketch wraps github.com/DataDog/sketches-go's DDSketch with a logarithmic
// index mapping and unbounded dense stores (DefaultRelativeAccuracy = 1%).
// TDigest wraps github.com/caio/go-tdigest/v4 (DefaultCompression = 100).
// Both accept any finite float64, including zero and negative values, and
// reject NaN and ±Inf with ErrNotFinite: a sketch cannot place them, so the
// SQL layer must answer such groups from the raw table. Quantile(q) takes q in
// [0, 1] (anything else is ErrQuantile) and returns ErrEmpty for an empty
// sketch, which the SQL layer maps to NULL as percentile_cont does for no rows.
//
// DDSketch's accuracy is relative to |x|: on values with a large common
// offset, such as epoch timestamps, 1% is months, and the t-digest (whose
// means are exact float64) is the sketch to use. go-tdigest keeps up to
// 20·compression centroids before it compresses, so a default t-digest holds
// about 1,000-1,400 centroids (9-12 KB encoded) once it has seen 100k values,
// and rank errors stay near 1e-4; a DDSketch at 1% is 1-2 KB.
//
// Both quantile estimates follow percentile_cont: with r = q·(n−1), they
// interpolate between the values at ranks ⌊r⌋ and ⌈r⌉. For DDSketch each of
// those two values is within the relative accuracy α of the true order
// statistic, so the estimate is within α·((1−f)·|x⌊r⌋| + f·|x⌈r⌉|) of
// percentile_cont (f = r − ⌊r⌋) — within α relative whenever the two order
// statistics have the same sign. The t-digest has no such guarantee; its
// measured rank errors are asserted in the tests.
//
// Encodings (MarshalBinary / UnmarshalBinary) start with a version byte.
//
//   - Sketch, version 1: the relative accuracy (float64 bits, little-endian),
//     the zero count (uvarint), then the positive and the negative bins, each
//     as a uvarint bin count followed by (index delta as a zigzag varint,
//     count as a uvarint) per bin in increasing index order. The decoder
//     checks every bin index against the mapping's indexable range, so a
//     forged sketch cannot make the dense store allocate more than that range
//     (about 71k bins at 1%). sketches-go's own Encode is not used because its
//     DecodeDDSketch drops store decoding errors and trusts bin indexes.
//   - TDigest, version 1: the compression (float64 bits), the centroid count
//     (uvarint), then per centroid in increasing mean order the mean as the
//     zigzag-varint difference of its order-preserving 64-bit key from the
//     previous one, and its weight as a uvarint. Means are exact float64:
//     go-tdigest's own AsBytes stores them as float32 deltas, which moves a
//     centroid near 1e12 by up to about 1e5.
//   - NonFiniteState, the single byte 0xFE, for either kind: a state whose
//     inputs included NaN, ±Inf or (DDSketch) a value beyond its range. It
//     decodes to ErrNotFinite, so it poisons every merge it enters.
package stats
