// Package requests counts a tracker front's requests by action and result and
// times them, on the hot path: an observation is a few atomic adds, with no lock
// and no allocation, so that the UDP workers never wait on one another for it.
// The metrics package reads the counts at scrape time.
package requests

import (
	"sync/atomic"
	"time"
)

// Action is what a request asked for.
type Action uint8

// The actions, in label order. Connect is UDP's (BEP 15) alone.
const (
	Announce Action = iota
	Scrape
	Connect
	NumActions
)

func (a Action) String() string {
	return [...]string{"announce", "scrape", "connect", "?"}[min(a, NumActions)]
}

// Result is how a request was answered.
type Result uint8

// The results, in label order. Refused is a failure reply the protocol defines
// (bad input, access, caps, an expired connection id); Error is one the tracker
// did not mean to give (an internal error).
const (
	OK Result = iota
	Refused
	Error
	NumResults
)

func (r Result) String() string {
	return [...]string{"ok", "refused", "error", "?"}[min(r, NumResults)]
}

// Bounds are the upper bounds of the duration histogram's buckets. A UDP
// announce takes microseconds on a PC and tens of them on a Pi Zero; an HTTP
// request, or one that waits on a busy store, up to milliseconds; a full scrape
// of a big tracker streams for seconds.
var Bounds = [...]time.Duration{
	25 * time.Microsecond, 50 * time.Microsecond, 100 * time.Microsecond, 250 * time.Microsecond,
	500 * time.Microsecond, time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 100 * time.Millisecond, time.Second, 10 * time.Second,
}

// Counts are one front's requests. The zero value is ready to use.
type Counts struct {
	n       [NumActions][NumResults]atomic.Uint64
	buckets [len(Bounds) + 1]atomic.Uint64 // per bucket, not cumulative; the last is past every bound
	sum     atomic.Uint64                  // nanoseconds
}

// Observe counts one request answered with r after d.
func (c *Counts) Observe(a Action, r Result, d time.Duration) {
	if a >= NumActions || r >= NumResults {
		return
	}
	c.n[a][r].Add(1)
	d = max(d, 0)
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	c.buckets[i].Add(1)
	c.sum.Add(uint64(d))
}

// Snapshot is Counts read at one time.
type Snapshot struct {
	Requests [NumActions][NumResults]uint64
	Buckets  [len(Bounds) + 1]uint64 // as in Counts
	Sum      time.Duration
}

// Count is the number of requests timed: the histogram's count.
func (s *Snapshot) Count() uint64 {
	var n uint64
	for _, b := range s.Buckets {
		n += b
	}
	return n
}

// Snapshot reads c. Each figure is read atomically, not all of them at once: a
// request observed meanwhile may show in its bucket and not yet in the sum.
func (c *Counts) Snapshot() Snapshot {
	var s Snapshot
	for a := range s.Requests {
		for r := range s.Requests[a] {
			s.Requests[a][r] = c.n[a][r].Load()
		}
	}
	for i := range s.Buckets {
		s.Buckets[i] = c.buckets[i].Load()
	}
	s.Sum = time.Duration(c.sum.Load())
	return s
}
