package requests

import (
	"testing"
	"time"
)

// A duration lands in the first bucket whose bound it does not exceed (a
// Prometheus bucket counts values ≤ its bound), and past the last bound in the
// overflow bucket.
func TestObserveBuckets(t *testing.T) {
	for _, tc := range []struct {
		d      time.Duration
		bucket int
	}{
		{-time.Second, 0}, // a clock step back is no negative duration
		{0, 0},
		{Bounds[0], 0},
		{Bounds[0] + 1, 1},
		{Bounds[3], 3},
		{Bounds[len(Bounds)-1], len(Bounds) - 1},
		{Bounds[len(Bounds)-1] + 1, len(Bounds)},
		{time.Hour, len(Bounds)},
	} {
		var c Counts
		c.Observe(Scrape, Refused, tc.d)
		s := c.Snapshot()
		for i, n := range s.Buckets {
			if want := uint64(0); i == tc.bucket {
				if n != 1 {
					t.Errorf("%v: bucket %d holds %d, want 1", tc.d, i, n)
				}
			} else if n != want {
				t.Errorf("%v: bucket %d holds %d, want 0", tc.d, i, n)
			}
		}
		if s.Requests[Scrape][Refused] != 1 || s.Count() != 1 || s.Sum != max(tc.d, 0) {
			t.Errorf("%v: counted %v, count %d, sum %v", tc.d, s.Requests, s.Count(), s.Sum)
		}
	}
}

// An action or result outside the label sets is not counted: it has no series.
func TestObserveOutOfRange(t *testing.T) {
	var c Counts
	c.Observe(NumActions, OK, time.Millisecond)
	c.Observe(Announce, NumResults, time.Millisecond)
	if s := c.Snapshot(); s != (Snapshot{}) {
		t.Errorf("counted %+v", s)
	}
}

// The names are the label values /metrics shows.
func TestNames(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{Announce.String(), "announce"}, {Scrape.String(), "scrape"}, {Connect.String(), "connect"},
		{OK.String(), "ok"}, {Refused.String(), "refused"}, {Error.String(), "error"},
		{Action(200).String(), "?"}, {Result(200).String(), "?"},
	} {
		if tc.got != tc.want {
			t.Errorf("%q, want %q", tc.got, tc.want)
		}
	}
}

// Observing is on every request's path: it must not allocate.
func TestObserveAllocatesNothing(t *testing.T) {
	var c Counts
	if n := testing.AllocsPerRun(1000, func() { c.Observe(Announce, OK, 40*time.Microsecond) }); n != 0 {
		t.Errorf("Observe allocates %.1f times", n)
	}
}

func BenchmarkObserve(b *testing.B) {
	var c Counts
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Observe(Announce, OK, 40*time.Microsecond)
		}
	})
}
