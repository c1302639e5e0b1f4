package registry

import (
	"fmt"
	"strconv"
	"strings"
)

// Nickname numbers. Every (shard, prefix) pair has a series of numbers
// 1…MaxNumber behind its "<prefix>-NNN" nicknames; "auto" draws from the series
// named after the node's role. The registry keeps the FREE numbers of a
// series as disjoint ranges [Lo, Hi] in the free_numbers table, so that
//
//   - the lowest free number is the Lo of the first range (an index seek, no
//     scan: the cost does not grow with the fleet);
//   - a retired node's number goes back as a one-number range, merged with its
//     neighbours, and is handed out again before higher ones;
//   - an operator may still pick a numbered name by hand (--nickname jvb-007):
//     its number is cut out of the range that holds it.
//
// Invariant: a number is in a free range exactly when no live node of the shard
// holds "<role>-<number>". The partial UNIQUE index on live nicknames stays the
// last line of defence should the invariant ever break.
//
// The functions below are the pure part: they turn ranges read from the
// database into the changes to write back. claim.go does the I/O.

// MaxNumber is the highest number of a series.
const MaxNumber int64 = 999_999_999

// numRange is a run of free numbers, both ends included.
type numRange struct{ Lo, Hi int64 }

// rangeChange is a change to one series' free ranges, applied in this order:
// delete the ranges starting at Delete, move the low end of the range
// starting at Raise.From up to Raise.To, insert Insert.
type rangeChange struct {
	Delete []int64
	Raise  *raise
	Insert []numRange
}

// raise moves a range's low end: [From, hi] becomes [To, hi].
type raise struct{ From, To int64 }

// formatNickname is the canonical numbered nickname: jvb-001 … jvb-999, jvb-1000.
func formatNickname(prefix string, n int64) string {
	return fmt.Sprintf("%s-%03d", prefix, n)
}

// parseNumbered splits a canonical numbered nickname "<prefix>-NNN" (as
// formatNickname writes it) into its series prefix and number. "jvb-07" or
// "jvb-0007" are ordinary names, not numbered ones. The prefix comes from the
// name, not the node's role, so "jvb-001" is the jvb series' number 1 whoever
// holds it.
func parseNumbered(nickname string) (prefix string, n int64, ok bool) {
	i := strings.LastIndexByte(nickname, '-')
	if i <= 0 {
		return "", 0, false
	}
	prefix, rest := nickname[:i], nickname[i+1:]
	if len(rest) < 3 || len(rest) > 10 {
		return "", 0, false
	}
	for j := 0; j < len(rest); j++ {
		if rest[j] < '0' || rest[j] > '9' {
			return "", 0, false
		}
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil || n < 1 || n > MaxNumber || formatNickname(prefix, n) != nickname {
		return "", 0, false
	}
	return prefix, n, true
}

// planTake takes the k lowest free numbers from ranges (sorted by Lo, as read
// with "ORDER BY lo LIMIT k": k ranges always hold at least k numbers unless
// the series is exhausted).
func planTake(ranges []numRange, k int) ([]int64, rangeChange, error) {
	var nums []int64
	var ch rangeChange
	for _, r := range ranges {
		if len(nums) == k {
			break
		}
		if r.Hi < r.Lo {
			return nil, rangeChange{}, fmt.Errorf("take numbers: corrupt free range [%d, %d]", r.Lo, r.Hi)
		}
		n := r.Lo
		for ; n <= r.Hi && len(nums) < k; n++ {
			nums = append(nums, n)
		}
		if n <= r.Hi {
			// Only the last range read can be left partly used: one UPDATE,
			// the whole change in the common case of one open-ended range.
			ch.Raise = &raise{From: r.Lo, To: n}
		} else {
			ch.Delete = append(ch.Delete, r.Lo)
		}
	}
	if len(nums) < k {
		return nil, rangeChange{}, fmt.Errorf("take numbers: only %d of %d free: the series is exhausted (%d names)", len(nums), k, MaxNumber)
	}
	return nums, ch, nil
}

// planCut removes n from r, the free range that holds it (r.Lo ≤ n ≤ r.Hi).
func planCut(r numRange, n int64) rangeChange {
	ch := rangeChange{Delete: []int64{r.Lo}}
	if n > r.Lo {
		ch.Insert = append(ch.Insert, numRange{Lo: r.Lo, Hi: n - 1})
	}
	if n < r.Hi {
		ch.Insert = append(ch.Insert, numRange{Lo: n + 1, Hi: r.Hi})
	}
	return ch
}

// planRelease gives n back. below is the range with the greatest Lo ≤ n (nil
// when none), above the range starting at n+1 (nil when none). A number that
// is already free changes nothing.
func planRelease(n int64, below, above *numRange) rangeChange {
	if below != nil && below.Lo <= n && n <= below.Hi {
		return rangeChange{}
	}
	var ch rangeChange
	merged := numRange{Lo: n, Hi: n}
	if below != nil && below.Hi == n-1 {
		ch.Delete = append(ch.Delete, below.Lo)
		merged.Lo = below.Lo
	}
	if above != nil && above.Lo == n+1 {
		ch.Delete = append(ch.Delete, above.Lo)
		merged.Hi = above.Hi
	}
	ch.Insert = append(ch.Insert, merged)
	return ch
}
