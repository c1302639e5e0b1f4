package registry

import (
	"github.com/jitsi-packer/packer-plugin-jitsi/userdata/registry/regapi"

	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	dqdriver "github.com/canonical/go-dqlite/v3/driver"
)

// The one-round-trip claim. A batch's cost is its round trips to the leader
// plus one Raft commit: on a 3-node cluster the round trip that began the
// transaction was about an eighth of a batch, and claims arriving through the
// API (which carry their client's claim ids, looked up first) paid two more.
// The common batch — auto
// nicknames of one series whose lowest free range this process remembers —
// is therefore sent as ONE exec:
//
//	BEGIN IMMEDIATE;
//	UPDATE free_numbers … (compare-and-swap: the range still starts at the hint, is still the lowest);
//	INSERT INTO nodes … SELECT … WHERE changes() = 1;
//	COMMIT
//
// changes() is the UPDATE's row count, so the INSERT writes the nodes only
// when the swap took. Otherwise nothing was written, the (empty) transaction
// commits, and the batch runs the general path, which reads. The claim ids
// are not looked up first: claim_id is UNIQUE, so a repeated id fails the
// exec, which is rolled back, and the general path answers it from the
// committed row. Either way a miss costs one extra round trip, and the
// general path relearns the hint.

// errFastMiss: the one-round-trip claim did not apply; run the general path.
var errFastMiss = errors.New("fast claim missed")

// fastSeries returns the series of a batch the one-round-trip claim can take
// (every claim auto, of one role and one shard whose id is known, no secret
// fingerprint to check) and where its lowest free range started after our
// last commit.
func (r *Registry) fastSeries(units []*claimUnit) (key seriesKey, lo int64, ok bool) {
	var shard, role string
	k := 0
	for _, u := range units {
		for _, q := range u.reqs {
			if q.Nickname != regapi.AutoNickname || q.SecretFingerprint != "" {
				return key, 0, false
			}
			if k == 0 {
				shard, role = q.Shard, q.Role
			} else if q.Shard != shard || q.Role != role {
				return key, 0, false
			}
			k++
		}
	}
	if k == 0 || k > maxRowsPerInsert {
		return key, 0, false
	}
	id, known := r.facts.shardID(shard)
	if !known {
		return key, 0, false
	}
	key = seriesKey{id, role}
	lo, ok = r.hints[key]
	return key, lo, ok
}

// claimFast runs the batch as one exec; errFastMiss when it did not apply.
func (r *Registry) claimFast(units []*claimUnit, key seriesKey, lo int64) ([]unitOutcome, error) {
	var out []unitOutcome
	missed, taken := false, 0
	err := r.write(r.ctx, func(ctx context.Context, c *tx) error {
		t := &claimTx{ctx: ctx, c: c, at: dbTime(r.opts.now())}
		var fresh []*newNode
		out, missed = make([]unitOutcome, len(units)), false
		s := &shardRow{id: key.shard, fqdn: units[0].reqs[0].Shard}
		tried := make([]bool, len(units))
		for ui, u := range units {
			tried[ui], u.tried = u.tried, true
			out[ui].nodes = make([]regapi.Node, len(u.reqs))
			for i, q := range u.reqs {
				n := &newNode{unit: ui, idx: i, req: q, shard: s}
				n.nickname = formatNickname(key.prefix, lo+int64(len(fresh)))
				fresh = append(fresh, n)
			}
		}
		taken = len(fresh)
		res, err := c.execAndCommit(ctx, qTakeAtHintLiteral(key, len(fresh), lo)+"; "+qInsertNodesIfChanged(len(fresh)), t.nodeArgs(fresh)...)
		if err != nil {
			if isConstraint(err) {
				return errFastMiss // rolled back by txOnce; the general path looks the claim ids up
			}
			return err
		}
		inserted, err := res.RowsAffected()
		if err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
		if inserted == 0 {
			// The swap missed and the empty transaction committed: this
			// attempt wrote nothing for sure, so it neither costs the
			// connection nor makes the general path look the claims up.
			missed = true
			for ui, u := range units {
				u.tried = tried[ui]
			}
			return nil
		}
		r.fastCommits.Add(1)
		if inserted != int64(len(fresh)) {
			return fmt.Errorf("insert nodes: %d rows inserted for %d claims", inserted, len(fresh))
		}
		last, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
		at, err := parseDBTime(t.at)
		if err != nil {
			return err
		}
		for i, n := range fresh {
			out[n.unit].nodes[n.idx] = n.issued(last-int64(len(fresh)-1-i), at)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if missed {
		return nil, errFastMiss
	}
	r.batches.Add(1)
	r.hints[key] = lo + int64(taken)
	return out, nil
}

// qTakeAtHintLiteral is qTakeAtHint with its values written into the SQL: in
// a multi-statement exec only one statement may take parameters, and the
// INSERT needs them. The values are two integers, a count and a prefix that
// validation limits to a role name; the prefix is quoted all the same.
func qTakeAtHintLiteral(key seriesKey, k int, lo int64) string {
	shard, prefix, kk, l := strconv.FormatInt(key.shard, 10), sqlQuote(key.prefix), strconv.Itoa(k), strconv.FormatInt(lo, 10)
	return `UPDATE free_numbers SET lo = lo + ` + kk +
		` WHERE shard_id = ` + shard + ` AND prefix = ` + prefix + ` AND lo = ` + l + ` AND hi - lo + 1 > ` + kk +
		` AND NOT EXISTS (SELECT 1 FROM free_numbers WHERE shard_id = ` + shard + ` AND prefix = ` + prefix + ` AND lo < ` + l + `)`
}

// qInsertNodesIfChanged is qInsertNodes guarded by the previous statement:
// it inserts the rows only if that statement changed exactly one row.
func qInsertNodesIfChanged(n int) string {
	return `INSERT INTO nodes (` + nodeInsertColumns + `) SELECT * FROM (VALUES ` +
		rows(n, nodeInsertColumnCount) + `) WHERE changes() = 1`
}

// sqlQuote writes s as an SQL string literal.
func sqlQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// isConstraint reports whether err is an SQLite constraint violation (UNIQUE,
// NOT NULL, FOREIGN KEY, …).
func isConstraint(err error) bool {
	var de dqdriver.Error
	return errors.As(err, &de) && de.Code&0xff == 19 /* SQLITE_CONSTRAINT */
}
