package registry

// memo is what the registry remembers between claim batches, so that a batch
// in steady state reads nothing before it writes (claim.go):
//
//   - a shard's row id and the existence of a nickname series: they never
//     change once committed (shards and series are never deleted or renamed);
//   - where each series' lowest free range started after this process's last
//     commit (the hint): this one CAN go stale — another node claimed, a
//     number was released — so it is only ever used as a compare-and-swap
//     that checks it under the write lock (qTakeAtHint).
//
// Only a successful COMMIT teaches the memo anything (learn). It belongs to
// the batcher's goroutine, which runs every claim transaction, so it needs
// no lock.
type memo struct {
	shards map[string]int64    // jms_fqdn → shards.id
	series map[seriesKey]bool  // known to exist
	hints  map[seriesKey]int64 // lowest free range start after our last commit
}

func newMemo() memo {
	return memo{shards: map[string]int64{}, series: map[seriesKey]bool{}, hints: map[seriesKey]int64{}}
}

// seriesKey names a nickname series: a shard and a prefix (the role, for
// auto nicknames).
type seriesKey struct {
	shard  int64
	prefix string
}

// learn records what a committed claim transaction read, created or left.
func (m *memo) learn(t *claimTx) {
	for fqdn, s := range t.shards {
		m.shards[fqdn] = s.id
	}
	for k := range t.series {
		m.series[k] = true
	}
	for k, lo := range t.nextHints {
		if lo > 0 {
			m.hints[k] = lo
		} else {
			delete(m.hints, k)
		}
	}
}

// forgetHints drops every hint: they are cheap to relearn, and an attempt
// that failed may have seen them go stale.
func (m *memo) forgetHints() { clear(m.hints) }
