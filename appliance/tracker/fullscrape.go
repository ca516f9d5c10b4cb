package tracker

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/swarm"
)

// FullScrapeBatch is how many torrents one pass of a full scrape holds, at 36 bytes
// each: the default keeps the buffer under 300 KiB. A full scrape of N torrents makes
// about N/FullScrapeBatch passes over the store. It is a variable so that tests can
// make many passes out of a few torrents; set it only while no full scrape runs.
var FullScrapeBatch = 8192

// ErrFullScrapeBusy refuses a full scrape while another one runs.
var ErrFullScrapeBusy = &Error{Reason: "a full scrape is already running", RetryIn: time.Minute}

// errNoHash refuses a Scrape naming no torrent: only FullScrape answers for every
// torrent.
var errNoHash = &Error{Reason: "scrape names no info-hash"}

// fullScraping is process-wide, not per Tracker, because what it bounds is the
// process's memory and CPU: one batch buffer and one set of passes at a time.
var fullScraping atomic.Bool

// FullScrape hands emit the counts of every torrent in strictly increasing info-hash
// order, as a scrape naming no torrent asks (BEP 48), if the operator allows it.
//
// The store iterates in hash-table order and a bencoded dict must be sorted, yet
// memory must not grow with the store. So each pass over the store keeps only the
// FullScrapeBatch smallest hashes above the last one emitted, then sorts and emits
// them. That makes about N/FullScrapeBatch passes, N²/FullScrapeBatch visits, over N
// torrents: accepted, because a full scrape is rare, opt-in and one at a time, and a
// pass holds one shard's lock at a time. emit runs with no lock held, so it may wait
// on a slow client. A torrent created or dropped meanwhile is listed or not,
// depending on what later passes see; no hash is ever emitted twice.
//
// A refusal is an *Error returned before emit is first called: not allowed, no
// valid passkey in private mode (key nil is none), full scrape disabled, or another
// full scrape running (ErrFullScrapeBusy). An error from emit stops the scrape and
// is returned wrapped. A torrent the access policy does not track is left out: the
// store may still hold swarms from before a list changed.
func (t *Tracker) FullScrape(src netip.Addr, key *access.Key, emit func(ScrapeEntry) error) error {
	cfg := t.cfg.Load()
	if !cfg.allowed(src) {
		return t.refuse(ErrNotAllowed)
	}
	if err := t.access.CheckScrape(orNoKey(key)); err != nil {
		return t.refuse(accessError(err))
	}
	if !cfg.FullScrape {
		return t.refuse(ErrFullScrape)
	}
	if !fullScraping.CompareAndSwap(false, true) {
		return t.refuse(ErrFullScrapeBusy)
	}
	defer fullScraping.Store(false)

	b := batch{buf: make([]compactEntry, 0, max(FullScrapeBatch, 1))}
	visit := b.visit // one closure for every pass
	for {
		t.store.Range(visit)
		b.sort()
		for i := range b.buf {
			e := &b.buf[i]
			// A store visiting a swarm twice in one pass must not make a duplicate key.
			if i > 0 && e.hash == b.buf[i-1].hash || !t.access.Tracked(&e.hash) {
				continue
			}
			if err := emit(entry(e.hash, e.counts())); err != nil {
				return fmt.Errorf("tracker: full scrape: %w", err)
			}
		}
		// A short batch held every hash left above the last one emitted.
		if len(b.buf) < cap(b.buf) {
			break
		}
		b.after, b.begun = b.buf[len(b.buf)-1].hash, true
		b.buf = b.buf[:0]
	}
	t.scrapes.Add(1)
	return nil
}

// compactEntry is one torrent held by a pass: 36 bytes, where a ScrapeEntry takes 56
// on a 64-bit machine.
type compactEntry struct {
	hash                                  [20]byte
	seeders, leechers, partial, completed uint32
}

func (e *compactEntry) counts() swarm.Counts {
	return swarm.Counts{
		Seeders:   int(e.seeders),
		Leechers:  int(e.leechers),
		Partial:   int(e.partial),
		Completed: int(e.completed),
	}
}

// u32 saturates: a count past 2³² cannot happen within the store's caps, and must
// not wrap if it somehow did.
func u32(n int) uint32 { return uint32(min(uint64(max(n, 0)), math.MaxUint32)) }

// batch collects, in one pass over the store, the cap(buf) smallest hashes above
// after. While collecting, buf is a max-heap on the hash, so the entry to evict for a
// smaller one is always at the top.
type batch struct {
	buf   []compactEntry
	after [20]byte
	begun bool // after holds the last hash emitted; before the first batch, none is
}

// visit is the store's Range callback: it runs under a shard lock, so it only
// compares and, for a hash that belongs in the batch, sifts.
func (b *batch) visit(h [20]byte, c swarm.Counts) bool {
	if b.begun && !hashLess(&b.after, &h) {
		return true
	}
	full := len(b.buf) == cap(b.buf)
	if full && !hashLess(&h, &b.buf[0].hash) {
		return true
	}
	e := compactEntry{hash: h, seeders: u32(c.Seeders), leechers: u32(c.Leechers), partial: u32(c.Partial), completed: u32(c.Completed)}
	if full {
		b.buf[0] = e
		b.down(0, len(b.buf))
	} else {
		b.buf = append(b.buf, e)
		b.up(len(b.buf) - 1)
	}
	return true
}

func (b *batch) less(i, j int) bool { return hashLess(&b.buf[i].hash, &b.buf[j].hash) }

// hashLess orders hashes as bytes.Compare does, but inline: it runs several times
// per torrent per pass, and info-hashes are near random, so their first eight bytes,
// compared as one integer, almost always decide.
func hashLess(a, b *[20]byte) bool {
	if x, y := binary.BigEndian.Uint64(a[:]), binary.BigEndian.Uint64(b[:]); x != y {
		return x < y
	}
	return string(a[8:]) < string(b[8:]) // no copy: a conversion only compared does not allocate
}

func (b *batch) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !b.less(parent, i) {
			return
		}
		b.buf[parent], b.buf[i] = b.buf[i], b.buf[parent]
		i = parent
	}
}

// sort turns the heap into ascending order: popping the largest to the end, again
// and again, sorts in place.
func (b *batch) sort() {
	for n := len(b.buf) - 1; n > 0; n-- {
		b.buf[0], b.buf[n] = b.buf[n], b.buf[0]
		b.down(0, n)
	}
}

// down sifts entry i of the heap b.buf[:n] down to its place.
func (b *batch) down(i, n int) {
	for {
		child := 2*i + 1
		if child >= n {
			return
		}
		if right := child + 1; right < n && b.less(child, right) {
			child = right
		}
		if !b.less(i, child) {
			return
		}
		b.buf[i], b.buf[child] = b.buf[child], b.buf[i]
		i = child
	}
}
