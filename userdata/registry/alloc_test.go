package registry

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFormatAndParseNumbered(t *testing.T) {
	for _, tc := range []struct {
		name   string
		prefix string
		n      int64
		ok     bool
	}{
		{"jvb-001", "jvb", 1, true},
		{"jvb-042", "jvb", 42, true},
		{"jvb-999", "jvb", 999, true},
		{"jvb-1000", "jvb", 1000, true},
		{"my-bridge-007", "my-bridge", 7, true},
		{"jvb-07", "", 0, false},         // not canonical: an ordinary name
		{"jvb-0007", "", 0, false},       // not canonical
		{"jvb-000", "", 0, false},        // numbers start at 1
		{"jvb-01a", "", 0, false},        // not digits
		{"jvb", "", 0, false},            // no number
		{"-001", "", 0, false},           // no prefix
		{"jvb-9999999999", "", 0, false}, // beyond MaxNumber
	} {
		prefix, n, ok := parseNumbered(tc.name)
		if prefix != tc.prefix || n != tc.n || ok != tc.ok {
			t.Errorf("parseNumbered(%q) = %q, %d, %v; want %q, %d, %v", tc.name, prefix, n, ok, tc.prefix, tc.n, tc.ok)
		}
		if tc.ok && formatNickname(tc.prefix, tc.n) != tc.name {
			t.Errorf("formatNickname(%q, %d) = %q, want %q", tc.prefix, tc.n, formatNickname(tc.prefix, tc.n), tc.name)
		}
	}
}

func TestPlanTake(t *testing.T) {
	for _, tc := range []struct {
		name   string
		ranges []numRange
		k      int
		nums   []int64
		change rangeChange
		err    string
	}{
		{"fresh series", []numRange{{1, MaxNumber}}, 3, []int64{1, 2, 3},
			rangeChange{Raise: &raise{1, 4}}, ""},
		{"holes first, lowest first", []numRange{{2, 2}, {5, 6}, {9, MaxNumber}}, 4, []int64{2, 5, 6, 9},
			rangeChange{Delete: []int64{2, 5}, Raise: &raise{9, 10}}, ""},
		{"range used up exactly", []numRange{{3, 4}, {7, MaxNumber}}, 2, []int64{3, 4},
			rangeChange{Delete: []int64{3}}, ""},
		{"extra ranges untouched", []numRange{{1, 5}, {8, 9}}, 1, []int64{1},
			rangeChange{Raise: &raise{1, 2}}, ""},
		{"exhausted", []numRange{{MaxNumber, MaxNumber}}, 2, nil, rangeChange{}, "exhausted"},
		{"no ranges", nil, 1, nil, rangeChange{}, "exhausted"},
		{"corrupt", []numRange{{5, 4}}, 1, nil, rangeChange{}, "corrupt"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nums, ch, err := planTake(tc.ranges, tc.k)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want one containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(nums, tc.nums) || !reflect.DeepEqual(ch, tc.change) {
				t.Errorf("got %v %+v, want %v %+v", nums, ch, tc.nums, tc.change)
			}
		})
	}
}

func TestPlanCutAndRelease(t *testing.T) {
	cuts := []struct {
		r    numRange
		n    int64
		want rangeChange
	}{
		{numRange{1, 10}, 1, rangeChange{Delete: []int64{1}, Insert: []numRange{{2, 10}}}},
		{numRange{1, 10}, 10, rangeChange{Delete: []int64{1}, Insert: []numRange{{1, 9}}}},
		{numRange{1, 10}, 4, rangeChange{Delete: []int64{1}, Insert: []numRange{{1, 3}, {5, 10}}}},
		{numRange{7, 7}, 7, rangeChange{Delete: []int64{7}}},
	}
	for _, c := range cuts {
		if got := planCut(c.r, c.n); !reflect.DeepEqual(got, c.want) {
			t.Errorf("planCut(%v, %d) = %+v, want %+v", c.r, c.n, got, c.want)
		}
	}
	rels := []struct {
		n            int64
		below, above *numRange
		want         rangeChange
	}{
		{5, nil, nil, rangeChange{Insert: []numRange{{5, 5}}}},
		{5, &numRange{1, 4}, nil, rangeChange{Delete: []int64{1}, Insert: []numRange{{1, 5}}}},
		{5, nil, &numRange{6, MaxNumber}, rangeChange{Delete: []int64{6}, Insert: []numRange{{5, MaxNumber}}}},
		{5, &numRange{2, 4}, &numRange{6, 9}, rangeChange{Delete: []int64{2, 6}, Insert: []numRange{{2, 9}}}},
		{5, &numRange{1, 2}, &numRange{8, 9}, rangeChange{Insert: []numRange{{5, 5}}}}, // no neighbours touch
		{5, &numRange{3, 7}, nil, rangeChange{}},                                       // already free
	}
	for _, c := range rels {
		if got := planRelease(c.n, c.below, c.above); !reflect.DeepEqual(got, c.want) {
			t.Errorf("planRelease(%d, %v, %v) = %+v, want %+v", c.n, c.below, c.above, got, c.want)
		}
	}
}

// TestAllocationModel drives the pure functions through a random sequence of
// auto claims, explicit claims and releases against an in-memory model of the
// free_numbers table, and checks the invariant after every step: the ranges
// are disjoint, and a number is free exactly when no live node holds it.
func TestAllocationModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	free := map[int64]int64{1: MaxNumber} // lo → hi
	live := map[int64]bool{}
	sorted := func() []numRange {
		var rs []numRange
		for lo, hi := range free {
			rs = append(rs, numRange{lo, hi})
		}
		slices.SortFunc(rs, func(a, b numRange) int { return int(a.Lo - b.Lo) })
		return rs
	}
	apply := func(ch rangeChange) {
		for _, lo := range ch.Delete {
			if _, ok := free[lo]; !ok {
				t.Fatalf("delete of missing range at %d", lo)
			}
			delete(free, lo)
		}
		if r := ch.Raise; r != nil {
			hi, ok := free[r.From]
			if !ok || r.To <= r.From || r.To > hi {
				t.Fatalf("bad raise %+v of range [%d, %d]", *r, r.From, hi)
			}
			delete(free, r.From)
			free[r.To] = hi
		}
		for _, r := range ch.Insert {
			if _, ok := free[r.Lo]; ok {
				t.Fatalf("insert over existing range at %d", r.Lo)
			}
			free[r.Lo] = r.Hi
		}
	}
	isFree := func(n int64) bool {
		for lo, hi := range free {
			if lo <= n && n <= hi {
				return true
			}
		}
		return false
	}
	lowestFree := func() int64 {
		for n := int64(1); ; n++ {
			if !live[n] {
				return n
			}
		}
	}
	for step := 0; step < 3000; step++ {
		switch op := rng.IntN(10); {
		case op < 5: // auto claim of k
			k := 1 + rng.IntN(4)
			want := lowestFree()
			rs := sorted()
			nums, ch, err := planTake(rs[:min(k, len(rs))], k)
			if err != nil {
				t.Fatal(err)
			}
			if nums[0] != want {
				t.Fatalf("step %d: took %d first, lowest free is %d", step, nums[0], want)
			}
			apply(ch)
			for _, n := range nums {
				if live[n] {
					t.Fatalf("step %d: %d handed out twice", step, n)
				}
				live[n] = true
			}
		case op < 7: // explicit claim of n
			n := 1 + rng.Int64N(60)
			var below *numRange
			for _, r := range sorted() {
				if r.Lo <= n {
					below = &r
				}
			}
			if below == nil || below.Hi < n {
				if !live[n] {
					t.Fatalf("step %d: %d neither free nor live", step, n)
				}
				continue // conflict: refused
			}
			apply(planCut(*below, n))
			live[n] = true
		default: // release a live number
			if len(live) == 0 {
				continue
			}
			var n int64
			for x := range live {
				n = x
				break
			}
			var below, above *numRange
			for _, r := range sorted() {
				if r.Lo <= n {
					below = &r
				}
				if r.Lo == n+1 {
					above = &r
				}
			}
			apply(planRelease(n, below, above))
			delete(live, n)
		}
		for n := int64(1); n <= 80; n++ {
			if isFree(n) == live[n] {
				t.Fatalf("step %d: number %d free=%v live=%v", step, n, isFree(n), live[n])
			}
		}
		rs := sorted()
		for i := 1; i < len(rs); i++ {
			if rs[i].Lo <= rs[i-1].Hi+1 {
				t.Fatalf("step %d: ranges %v and %v overlap or touch (should have merged)", step, rs[i-1], rs[i])
			}
		}
	}
}
