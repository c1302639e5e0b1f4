package registry

import "sync"

// facts caches what can never change once committed, so that a claim batch
// need not read it again: a shard's row id (shards are never deleted or
// renamed) and the existence of a nickname series (never deleted). A claim
// transaction reports what it learned, and only a successful COMMIT adds it
// here. What does change — a shard's secret fingerprint, free numbers, live
// nicknames — is always read inside the transaction.
type facts struct {
	shards sync.Map // jms_fqdn → int64 row id
	series sync.Map // seriesKey → struct{}
}

func (f *facts) shardID(fqdn string) (int64, bool) {
	v, ok := f.shards.Load(fqdn)
	if !ok {
		return 0, false
	}
	return v.(int64), true
}

func (f *facts) seriesExists(k seriesKey) bool {
	_, ok := f.series.Load(k)
	return ok
}

// learn records what a committed transaction read or created.
func (f *facts) learn(shards map[string]*shardRow, series map[seriesKey]bool) {
	for fqdn, s := range shards {
		f.shards.Store(fqdn, s.id)
	}
	for k := range series {
		f.series.Store(k, struct{}{})
	}
}
