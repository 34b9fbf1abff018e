// Package zorder owns the tenant hash and the z-order keys that index the
// changelog by (tenant, time): a stable FNV-1a hash of a tenant's scope
// values, the conversion of timestamps to microseconds since the Unix epoch
// (the conversion the design calls spiral(t)), and the interleaved key with
// the bounds that cover one tenant's time range.
//
// It must not do I/O, log or keep global state. Its outputs are stored in
// tables, so the byte layout, the hash and the key layout never change; the
// golden tests freeze them.
//
// # Hash byte layout
//
// Hash(v1, ..., vk) is FNV-1a 64 (hash/fnv) over the concatenation of each
// value's encoding, in scope-column order. Each encoding is a tag byte then
// the payload:
//
//	0x00 NULL     no payload
//	0x01 int      4 bytes, big-endian two's complement (as int4send)
//	0x02 bigint   8 bytes, big-endian two's complement (as int8send)
//	0x03 text     4-byte big-endian length, then the UTF-8 bytes
//	0x04 uuid     the 16 bytes in RFC 4122 order (as uuid_send)
//
// smallint values are hashed as int. The tag keeps Int(1) and BigInt(1)
// apart and the length prefix keeps ("ab", "c") apart from ("a", "bc").
// Texts are hashed as given (PostgreSQL texts are at most 1 GB, so the length
// always fits).
//
// # Time
//
// FromTime(t) is t in whole microseconds since 1970-01-01 00:00:00 UTC,
// rounded towards −∞, the resolution of timestamptz; in SQL it is
// (extract(epoch FROM t) * 1000000)::bigint. It covers PostgreSQL's earliest
// timestamptz (4714-11-24 00:00:00 UTC BC, MinMicros) up to the largest int64
// (294247-01-10 04:00:54.775807 UTC); PostgreSQL's last 29 years beyond that
// are ErrTimeRange. ToTime is the inverse.
//
// # Keys
//
// Key(hash, t) is a signed 64-bit integer, the type of a PostgreSQL bigint
// column, that sorts in z-order. Its 64 bits interleave the top 32 bits of
// the tenant hash (bit 31 of them at bit 63) with a 32-bit time coordinate
// (bit 31 at bit 62): the minute since the epoch, ⌊seconds/60⌋, offset by
// 2^31. Then the top bit is flipped, so that signed order equals the order of
// the unsigned interleaving.
//
// Minutes are the finest tier frame. The coordinate covers
// -2114-12-08 21:52 UTC to 6053-01-23 02:07:59 UTC; times outside clamp to
// the first or last minute. Clamping keeps keys monotone in time, so the
// bounds stay correct everywhere — they only get less selective outside.
//
// For a fixed hash the key is non-decreasing in time (strictly increasing
// from one minute to the next inside the covered range), so every key of that
// tenant at a time in [t0, t1] lies in [Key(hash, t0), Key(hash, t1)], which
// Bounds returns. The interval also holds keys of other tenants; a scan
// filters them with the hash.
package zorder
