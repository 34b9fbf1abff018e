package rewrite

// chain is the tiers one block reads, finest first: each serves whole
// buckets of every grouping key, and each one's boundaries are boundaries
// of the one below it, so that the coarsest serves the middle of the range
// and finer ones the edges.
type chain struct {
	tiers []Tier
	// since: the chain is valid only for ranges starting at or after this
	// Unix time (alwaysSince for always).
	since int64
	// session: validity depends on the session's TimeZone.
	session bool
}

// chooseChain picks the tiers for b under the session's time zone tz.
func (b *block) chooseChain(tz string) chain {
	c := chain{since: alwaysSince}
	tableZone := b.src.Table.TimeZone
	for _, t := range b.src.Tiers {
		since, session, ok := b.fitsAll(t, tableZone, tz)
		if !ok {
			continue
		}
		if n := len(c.tiers); n > 0 {
			s := nests(c.tiers[n-1].Frame, t.Frame, tableZone)
			if s == noSince {
				continue
			}
			since = max(since, s)
		}
		c.tiers = append(c.tiers, t)
		c.since = max(c.since, since)
		c.session = c.session || session
	}
	return c
}

// fitsAll checks one tier against every time key of b.
func (b *block) fitsAll(t Tier, tableZone, tz string) (since int64, session, ok bool) {
	since = alwaysSince
	for _, k := range b.keys {
		for _, bk := range k.buckets {
			f := bk.fits(t.Frame, tableZone, tz)
			if !f.ok {
				return 0, false, false
			}
			since = max(since, f.since)
			session = session || f.session
		}
	}
	return since, session, true
}
