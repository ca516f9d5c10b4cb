package swarm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Per-source quotas keep one host from crowding out the others: a source (an IPv4
// address, an IPv6 /64) may create only so many torrents per window and hold only
// so many peer entries at once.
//
// The counts are kept in count-min sketches: a few rows of counters, each row
// indexed by a different slice of a keyed hash of the source. A source's count is
// the smallest of its counters, which is never less than the truth and, with rows
// this wide, almost never more than a few above it. The memory is fixed, whatever
// the number of sources or what they send.
//
// Privacy: no address is kept here, only counters under a hash keyed by a secret
// drawn at start, which dies with the process. The counters live in RAM only, are
// short-lived (the torrent counts are forgotten window by window, the peer counts
// with the peers), and are never logged or shown; only the number of refusals is.
const (
	sketchRows  = 4
	sketchBits  = 14 // 16 384 counters a row; 256 KiB a sketch
	sketchWidth = 1 << sketchBits
)

// sketch is one count-min sketch of 32-bit counters, updated atomically: announces
// for different shards count the same source at once.
type sketch struct{ r region }

func newSketch(m *meter) (sketch, error) {
	var s sketch
	err := s.r.resize(sketchRows*sketchWidth*4, m, false)
	return s, err
}

func (s *sketch) slot(h uint64, row int) *uint32 {
	return &s.r.words()[row<<sketchBits|int(h>>(16*row))&(sketchWidth-1)]
}

// add counts one more for h and returns its estimate, the smallest counter.
func (s *sketch) add(h uint64) uint32 {
	least := ^uint32(0)
	for row := range sketchRows {
		least = min(least, atomic.AddUint32(s.slot(h, row), 1))
	}
	return least
}

// sub counts one less for h. It never takes a counter below zero, so a miscount
// can only ever err towards letting a source in.
func (s *sketch) sub(h uint64) {
	for row := range sketchRows {
		c := s.slot(h, row)
		for v := atomic.LoadUint32(c); v > 0 && !atomic.CompareAndSwapUint32(c, v, v-1); v = atomic.LoadUint32(c) {
		}
	}
}

func (s *sketch) get(h uint64, row int) uint32 { return atomic.LoadUint32(s.slot(h, row)) }

// quotas are the per-source limits; a zero limit is no limit. The limits are
// atomics, so that Reconfigure changes them under announces; a sketch is mapped
// the first time its limit is set and stays mapped until the store is closed, so
// that no announce can ever find it gone.
type quotas struct {
	seed     uint64
	maxPeers atomic.Uint32
	maxNew   atomic.Uint32
	window   atomic.Int64 // a time.Duration

	peers sketch // peer entries held, by the source in the entry's address

	// Torrents created, in two windows: the current one and the one before, which
	// counts for the part of it still inside a sliding window.
	made  [2]sketch
	cur   atomic.Uint32
	start atomic.Int64 // the current window's start, in nanoseconds of the store's monotonic clock
	mu    sync.Mutex   // one rotation or reset at a time
}

// newQuotas returns quotas set as o says. A sketch that cannot be mapped leaves
// its quota off: a store without quotas is better than no store.
func newQuotas(o Opts, m *meter, now time.Duration) *quotas {
	q := &quotas{seed: rand.Uint64()}
	_ = q.set(o, m, now)
	return q
}

// set applies o's quotas; calls to it are serialized (New, Table.Reconfigure).
// A quota turned on starts counting from zero: for the peers quota that means the
// peers stored while it was off are not counted until they leave and come back,
// which errs towards letting a source in. A new window starts the torrent counts
// afresh.
func (q *quotas) set(o Opts, m *meter, now time.Duration) error {
	window := o.SourceWindow
	if window <= 0 {
		window = 10 * time.Minute
	}
	var errs []error
	peers := quotaLimit(o.SourceMaxPeers)
	if peers > 0 && q.maxPeers.Load() == 0 {
		if err := ready(&q.peers, m); err != nil {
			errs = append(errs, err)
			peers = 0
		}
	}
	q.maxPeers.Store(peers)

	made := quotaLimit(o.SourceMaxNewTorrents)
	q.mu.Lock()
	if made > 0 && (q.maxNew.Load() == 0 || time.Duration(q.window.Load()) != window) {
		q.maxNew.Store(0) // nobody counts while the sketches are reset
		for i := range q.made {
			if err := ready(&q.made[i], m); err != nil {
				errs = append(errs, err)
				made = 0
			}
		}
		q.start.Store(int64(now))
	}
	q.window.Store(int64(window))
	q.maxNew.Store(made)
	q.mu.Unlock()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("swarm: source quotas: %w", err)
	}
	return nil
}

func quotaLimit(n int) uint32 { return uint32(min(int64(max(n, 0)), 1<<31)) }

// ready maps s, or zeroes it if it is mapped already.
func ready(s *sketch, m *meter) error {
	if s.r.b != nil {
		s.r.zero()
		return nil
	}
	n, err := newSketch(m)
	if err != nil {
		return err
	}
	*s = n
	return nil
}

// source keys: the IPv4 address, or the /64 of an IPv6 one.
func source4(a []byte) uint64 { return uint64(binary.BigEndian.Uint32(a)) | 1<<32 }
func source6(a []byte) uint64 { return binary.BigEndian.Uint64(a) }

func sourceOf(a netip.Addr) uint64 {
	if a.Is4() {
		a4 := a.As4()
		return source4(a4[:])
	}
	a16 := a.As16()
	return source6(a16[:8])
}

func (q *quotas) hash(src uint64) uint64 { return mix(src ^ q.seed) }

// takePeer counts a new peer entry for the source; false, counting nothing, when
// the source already holds its share.
func (q *quotas) takePeer(src uint64) bool {
	limit := q.maxPeers.Load()
	if limit == 0 {
		return true
	}
	h := q.hash(src)
	if q.peers.add(h) > limit {
		q.peers.sub(h)
		return false
	}
	return true
}

func (q *quotas) givePeer(src uint64) {
	if q.maxPeers.Load() != 0 {
		q.peers.sub(q.hash(src))
	}
}

// takeTorrent counts a torrent the source creates; false, counting nothing, when it
// has created its share in the sliding window. now is the time since the store
// began, on the monotonic clock: a step of the wall clock must not stretch or
// shrink a window.
func (q *quotas) takeTorrent(src uint64, now time.Duration) bool {
	limit := q.maxNew.Load()
	if limit == 0 {
		return true
	}
	q.rotate(now)
	h := q.hash(src)
	cur, prev := &q.made[q.cur.Load()&1], &q.made[(q.cur.Load()+1)&1]
	cur.add(h)
	// The previous window counts for the share of it the sliding window still
	// covers.
	left := 1 - float64(int64(now)-q.start.Load())/float64(q.window.Load())
	left = min(max(left, 0), 1)
	least := ^uint32(0)
	for row := range sketchRows {
		least = min(least, cur.get(h, row)+uint32(math.Ceil(float64(prev.get(h, row))*left)))
	}
	if least > limit {
		cur.sub(h)
		return false
	}
	return true
}

// giveTorrent takes back a count takeTorrent made, when the torrent could not be
// created after all.
func (q *quotas) giveTorrent(src uint64) {
	if q.maxNew.Load() != 0 {
		q.made[q.cur.Load()&1].sub(q.hash(src))
	}
}

// rotate starts a new window when the current one is over.
func (q *quotas) rotate(now time.Duration) {
	t := int64(now)
	if t-q.start.Load() < q.window.Load() {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	start, window := q.start.Load(), q.window.Load()
	if t-start < window {
		return
	}
	old := q.cur.Load()
	q.made[(old+1)&1].r.zero() // two windows ago: out of the sliding window
	if t-start >= 2*window {
		q.made[old&1].r.zero()
		start = t
	} else {
		start += window
	}
	q.start.Store(start)
	q.cur.Store(old + 1)
}

func (q *quotas) release(m *meter) {
	if q == nil {
		return
	}
	for _, s := range []*sketch{&q.peers, &q.made[0], &q.made[1]} {
		_ = s.r.resize(0, m, false)
	}
}
