package swarm

import (
	"context"
	"hash/maphash"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/internal/safe"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// Time is kept in ticks of PeerTimeout/timeoutTicks. A record's 14-bit tick is exact
// for 2^14 ticks, 16 peer timeouts; the cleaner passes every shard each
// PeerTimeout/cleanPasses, and a shard somehow left unswept for staleTicks is swept
// before it is used, so no age is ever read after it has wrapped. Retained torrents
// are stamped in minutes, 16 bits of them: 45 days, more than the longest retention.
const (
	timeoutTicks = 1024
	staleTicks   = 8 * timeoutTicks
	cleanPasses  = 8
	numShards    = 64 // a power of two
	minuteMask   = 1<<16 - 1
)

// hashSeed keys the info-hash hash, so that clients cannot choose hashes that
// collide in the index.
var hashSeed = maphash.MakeSeed()

func hashOf(ih *[20]byte) uint64 { return maphash.Comparable(hashSeed, *ih) }

// Table is the compact, sharded Store. See shard.go for how a shard keeps its
// torrents and block.go for how a swarm keeps its peers.
type Table struct {
	clock clock.Clock
	epoch time.Time
	tick  time.Duration // PeerTimeout/timeoutTicks as New found it; ages are kept in it
	seed  uint64        // keys the peer-index hash
	mem   *meter
	quota *quotas

	// What Reconfigure changes while announces run: each is read where it is
	// used, so a change applies from the next announce on.
	maxTorrents, maxPeers, maxPerTorrent atomic.Int64  // 0: no cap
	retain                               atomic.Uint32 // Opts.Retention in minutes; 0 forgets at once
	timeout                              atomic.Uint32 // PeerTimeout in ticks

	reconfig sync.Mutex // one Reconfigure at a time
	opts     Opts       // as last applied; guarded by reconfig

	torrents, kept, peers, seeders, partial, active atomic.Int64
	// The IPv6 share of peers, seeders and partial seeds; IPv4's is the rest.
	peers6, seeders6, partial6 atomic.Int64

	capTorrents, capPeers, capSwarm, capMemory, quotaTorrents, quotaPeers atomic.Uint64

	evict  atomic.Uint32 // where the next search for a retained torrent to evict starts
	shards *[numShards]shard

	panics safe.Panics // cleaner steps that panicked
	// cleanFault, set only by tests before Run, is called with a shard's index
	// and its lock held as the cleaner is about to sweep it.
	cleanFault func(shard int)
}

var _ Store = (*Table)(nil)

// New returns an empty Table. Caps of zero or less mean "no cap". The Table's memory
// is outside the Go heap: Close gives it back, or the garbage collector does once
// the Table is unreachable.
func New(o Opts, c clock.Clock) *Table {
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 45 * time.Minute
	}
	t := &Table{
		opts: o, clock: c, epoch: c.Now(), seed: rand.Uint64(),
		mem:    &meter{},
		shards: new([numShards]shard),
	}
	t.tick = max(o.PeerTimeout/timeoutTicks, time.Nanosecond)
	t.timeout.Store(timeoutTicks)
	t.setCaps(o)
	// Sketches are mapped, not touched: they cost nothing until sources show up.
	// A system that cannot map 768 KiB at start has no quotas rather than no
	// tracker.
	t.quota = newQuotas(o, t.mem, 0)
	runtime.AddCleanup(t, release, held{t.shards, t.quota, t.mem})
	return t
}

// held is what New's cleanup frees: nothing in it points back to the Table.
type held struct {
	shards *[numShards]shard
	quota  *quotas
	mem    *meter
}

func release(h held) {
	for i := range h.shards {
		h.shards[i].releaseAll(h.mem)
	}
	h.quota.release(h.mem)
}

// Close frees the store's memory. The store is empty afterwards.
func (t *Table) Close() {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		n, kept := sh.count, sh.kept.Load()
		sh.mu.Unlock()
		sh.releaseAll(t.mem)
		t.torrents.Add(-int64(n))
		t.kept.Add(-int64(kept))
	}
	t.peers.Store(0)
	t.seeders.Store(0)
	t.partial.Store(0)
	t.peers6.Store(0)
	t.seeders6.Store(0)
	t.partial6.Store(0)
	t.active.Store(0)
}

func (t *Table) now() uint32 { return uint32(t.clock.Now().Sub(t.epoch) / t.tick) }

func (t *Table) minute() uint16 {
	return uint16(t.clock.Now().Sub(t.epoch) / time.Minute)
}

func (tor *torrent) len() int { return int(tor.n4 + tor.n6) }

func (tor *torrent) downloaders() int { return tor.len() - int(tor.seeders) - int(tor.partial) }

// active: a seeder and a downloader, so data is moving.
func (tor *torrent) active() bool { return tor.seeders > 0 && tor.downloaders() > 0 }

func (tor *torrent) counts() Counts {
	n := tor.len()
	return Counts{
		Seeders:   int(tor.seeders),
		Leechers:  n - int(tor.seeders),
		Partial:   int(tor.partial),
		Completed: int(tor.completed),
	}
}

// Announce implements Store.
func (t *Table) Announce(p *Params, r *Result) error {
	now := t.now()
	key := keyOf(p.Addr)
	h := hashOf(&p.InfoHash)
	sh := &t.shards[h&(numShards-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now-sh.lastClean > staleTicks {
		t.cleanLocked(sh, now)
	}

	id, known := sh.lookup(h, &p.InfoHash)
	if !known {
		if p.Stopped {
			r.Counts = Counts{}
			return nil
		}
		// A new swarm: its first peer must be admitted before the swarm is made.
		if err := t.admitPeer(nil, &key); err != nil {
			return err
		}
		var err error
		if id, err = t.create(sh, h, p); err != nil {
			t.unadmitPeer(&key)
			return err
		}
	}
	tor := &sh.records()[id]
	wasActive := tor.active()
	b := sh.block(tor, t.seed)
	i, found := b.find(&key)

	switch {
	case p.Stopped:
		if found {
			t.removePeer(tor, &b, key.v6, i)
			t.fit(sh, tor)
		}
		r.Counts = tor.counts()
		t.settle(sh, h, id, tor, wasActive)
		return nil
	case found:
		old := metaStatus(b.meta(key.v6, i))
		if old != p.Status {
			t.forget(tor, old, key.v6)
			t.count(tor, p.Status, key.v6)
		}
		if p.Completed && p.Status == Seeder && old != Seeder {
			tor.completed++
		}
		b.setMeta(key.v6, i, makeMeta(p.Status, now))
	default:
		if known {
			if err := t.admitPeer(tor, &key); err != nil {
				return err
			}
		}
		if err := t.room(sh, tor, &key); err != nil {
			t.unadmitPeer(&key)
			if !known {
				t.unmake(sh, h, id, p)
			}
			return err
		}
		if tor.state == stateKept {
			t.unkeep(sh, tor)
			tor.state = stateLive
		}
		b = sh.block(tor, t.seed)
		b.add(&key, makeMeta(p.Status, now))
		tor.n4, tor.n6 = uint32(b.n4), uint32(b.n6)
		t.count(tor, p.Status, key.v6)
		if p.Completed && p.Status == Seeder {
			tor.completed++
		}
	}
	t.settle(sh, h, id, tor, wasActive)
	r.Counts = tor.counts()
	t.pick(&b, tor, p, &key, r, now)
	return nil
}

// admitPeer holds a place for a new peer against the caps and the quota of the
// source in its address, or says which refuses it. tor is nil for a new swarm.
func (t *Table) admitPeer(tor *torrent, k *peerKey) error {
	if limit := int(t.maxPerTorrent.Load()); tor != nil && limit > 0 && tor.len() >= limit {
		t.capSwarm.Add(1)
		return ErrSwarmFull
	}
	if !t.quota.takePeer(k.source()) {
		t.quotaPeers.Add(1)
		return ErrSourcePeers
	}
	if !reserve(&t.peers, t.maxPeers.Load()) {
		t.quota.givePeer(k.source())
		t.capPeers.Add(1)
		return ErrTooManyPeers
	}
	if k.v6 {
		t.peers6.Add(1)
	}
	return nil
}

// reserve counts one more in n unless that would take it past limit (0: none).
// The count never reads above the limit, not even for a moment.
func reserve(n *atomic.Int64, limit int64) bool {
	for {
		v := n.Load()
		if limit > 0 && v >= limit {
			return false
		}
		if n.CompareAndSwap(v, v+1) {
			return true
		}
	}
}

func (t *Table) unadmitPeer(k *peerKey) {
	t.peers.Add(-1)
	if k.v6 {
		t.peers6.Add(-1)
	}
	t.quota.givePeer(k.source())
}

func (k *peerKey) source() uint64 {
	if k.v6 {
		return source6(k.wire[:8])
	}
	return source4(k.wire[:4])
}

// create makes the record of a new swarm, if the source's quota, the torrent cap
// and the memory budget allow it. The count is taken before the record is made, so
// that announces racing on other shards can never take the store past its cap.
func (t *Table) create(sh *shard, h uint64, p *Params) (uint32, error) {
	src := sourceOf(p.source())
	if !t.quota.takeTorrent(src, t.clock.Now().Sub(t.epoch)) {
		t.quotaTorrents.Add(1)
		return 0, ErrSourceTorrents
	}
	if !t.reserveTorrent(sh) {
		t.quota.giveTorrent(src)
		t.capTorrents.Add(1)
		return 0, ErrTooManyTorrents
	}
	id, err := sh.add(h, &p.InfoHash, t.mem)
	if err != nil && sh.kept.Load() > 0 {
		// A retained torrent's record makes room where growing would not.
		t.evictOldest(sh)
		id, err = sh.add(h, &p.InfoHash, t.mem)
	}
	if err != nil {
		t.torrents.Add(-1)
		t.quota.giveTorrent(src)
		t.capMemory.Add(1)
		return 0, ErrMemoryFull
	}
	return id, nil
}

// unmake takes back a swarm create made when its first peer could not be stored.
func (t *Table) unmake(sh *shard, h uint64, id uint32, p *Params) {
	sh.drop(h, id)
	t.torrents.Add(-1)
	t.quota.giveTorrent(sourceOf(p.source()))
}

func (p *Params) source() netip.Addr {
	if p.Source.IsValid() {
		return p.Source.Unmap()
	}
	return p.Addr.Addr()
}

// reserveTorrent counts one more torrent against MaxTorrents. At the cap, a
// retained torrent (no peers, kept for its completed count) is dropped to make
// room: those go first, the longest-empty first; swarms with peers never do.
func (t *Table) reserveTorrent(sh *shard) bool {
	limit := t.maxTorrents.Load()
	if reserve(&t.torrents, limit) {
		return true
	}
	return t.evictKept(sh) && reserve(&t.torrents, limit)
}

// evictKept drops the longest-retained torrent of the store, going by each shard's
// hint. sh is the shard the caller holds; another is only tried, never waited for,
// so two announces doing this at once cannot deadlock.
func (t *Table) evictKept(sh *shard) bool {
	if t.kept.Load() == 0 {
		return false
	}
	now := t.minute()
	for range 2 { // a hint may be stale, or its shard busy: look twice
		var best *shard
		bestAge := -1
		for i := range t.shards {
			o := &t.shards[i]
			if o.kept.Load() == 0 {
				continue
			}
			a := 0
			if v := o.oldest.Load(); v != 0 {
				a = int(now - uint16(v))
			}
			if a > bestAge {
				best, bestAge = o, a
			}
		}
		switch {
		case best == nil:
			return false
		case best == sh:
			t.evictOldest(sh)
			return true
		case best.mu.TryLock():
			ok := best.kept.Load() > 0
			if ok {
				t.evictOldest(best)
			}
			best.mu.Unlock()
			if ok {
				return true
			}
		}
	}
	if sh.kept.Load() > 0 {
		t.evictOldest(sh)
		return true
	}
	return false
}

// hintValid marks shard.oldest as known.
const hintValid = 1 << 16

// evictOldest drops sh's longest-retained torrent and notes the next one's age.
func (t *Table) evictOldest(sh *shard) {
	now := t.minute()
	recs := sh.records()
	first, second := -1, -1
	var firstAge, secondAge uint16
	for id := range sh.nrec {
		tor := &recs[id]
		if tor.state != stateKept {
			continue
		}
		switch a := now - tor.since; {
		case first < 0 || a > firstAge:
			second, secondAge = first, firstAge
			first, firstAge = int(id), a
		case second < 0 || a > secondAge:
			second, secondAge = int(id), a
		}
	}
	sh.oldest.Store(0)
	if first < 0 {
		return // the tallies said there was one; there is not, so nothing to do
	}
	t.dropKept(sh, uint32(first))
	if second >= 0 {
		sh.oldest.Store(uint32(recs[second].since) | hintValid)
	}
}

func (t *Table) dropKept(sh *shard, id uint32) {
	tor := &sh.records()[id]
	t.unkeep(sh, tor)
	sh.drop(hashOf(&tor.hash), id)
	t.torrents.Add(-1)
}

// keep and unkeep move a torrent into and out of the retained tallies.
func (t *Table) keep(sh *shard, tor *torrent) {
	tor.state, tor.since = stateKept, t.minute()
	if sh.kept.Add(1) == 1 {
		sh.oldest.Store(uint32(tor.since) | hintValid)
	}
	t.kept.Add(1)
}

func (t *Table) unkeep(sh *shard, tor *torrent) {
	if sh.kept.Add(-1) == 0 || sh.oldest.Load() == uint32(tor.since)|hintValid {
		sh.oldest.Store(0) // the cleaner finds the next oldest on its way
	}
	t.kept.Add(-1)
}

// room makes sure tor's block can take k's record, moving the swarm to a bigger
// block if it must. Small blocks grow a word at a time, big ones by a quarter.
func (t *Table) room(sh *shard, tor *torrent, k *peerKey) error {
	b := sh.block(tor, t.seed)
	need := stride4
	if k.v6 {
		need = stride6
	}
	if b.free() >= need {
		return nil
	}
	used := b.n4*stride4 + b.n6*stride6 + need
	c := classFor((used + wordBytes - 1) / wordBytes)
	if tor.class >= 8 {
		c = max(c, tor.class+2)
	}
	if c > maxClass {
		t.capSwarm.Add(1)
		return ErrSwarmFull
	}
	if err := sh.reblock(tor, c, t.seed, t.mem, true); err != nil {
		t.capMemory.Add(1)
		return ErrMemoryFull
	}
	return nil
}

// fit moves a swarm that has lost most of its peers to a smaller block.
func (t *Table) fit(sh *shard, tor *torrent) {
	if tor.class <= 8 || tor.len() == 0 {
		return
	}
	used := (int(tor.n4)*stride4 + int(tor.n6)*stride6 + wordBytes - 1) / wordBytes
	if used*4 < classWords(tor.class) {
		_ = sh.reblock(tor, classFor(used*2), t.seed, t.mem, false)
	}
}

// removePeer takes record i of family v6 out of tor.
func (t *Table) removePeer(tor *torrent, b *block, v6 bool, i int) {
	t.forget(tor, metaStatus(b.meta(v6, i)), v6)
	t.peers.Add(-1)
	if v6 {
		t.peers6.Add(-1)
	}
	t.quota.givePeer(recSource(v6, b.rec(v6, i)))
	b.remove(v6, i)
	tor.n4, tor.n6 = uint32(b.n4), uint32(b.n6)
}

func recSource(v6 bool, rec []byte) uint64 {
	if v6 {
		return source6(rec[:8])
	}
	return source4(rec[:4])
}

// count adds a peer of status s, IPv6 or not, to tor's and the store's tallies;
// forget takes one away. The store-wide peer count itself moves in admitPeer and
// removePeer.
func (t *Table) count(tor *torrent, s Status, v6 bool) { t.tally(tor, s, v6, 1) }

func (t *Table) forget(tor *torrent, s Status, v6 bool) { t.tally(tor, s, v6, -1) }

func (t *Table) tally(tor *torrent, s Status, v6 bool, d int64) {
	switch s {
	case Seeder:
		tor.seeders += uint32(d)
		t.seeders.Add(d)
		if v6 {
			t.seeders6.Add(d)
		}
	case PartialSeed:
		tor.partial += uint32(d)
		t.partial.Add(d)
		if v6 {
			t.partial6.Add(d)
		}
	}
}

// settle updates the active-swarm tally, and retains or drops a swarm that has
// lost its last peer: one with snatches keeps its record (and completed count) for
// the retention, one without is forgotten at once.
func (t *Table) settle(sh *shard, h uint64, id uint32, tor *torrent, wasActive bool) {
	if a := tor.active(); a != wasActive {
		if a {
			t.active.Add(1)
		} else {
			t.active.Add(-1)
		}
	}
	if tor.len() > 0 || tor.state != stateLive {
		return
	}
	sh.release(tor)
	if tor.completed > 0 && t.retain.Load() > 0 {
		t.keep(sh, tor)
		return
	}
	sh.drop(h, id)
	t.torrents.Add(-1)
}

// Scrape implements Store.
func (t *Table) Scrape(ih [20]byte) Counts {
	h := hashOf(&ih)
	sh := &t.shards[h&(numShards-1)]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if id, ok := sh.lookup(h, &ih); ok {
		return sh.records()[id].counts()
	}
	return Counts{}
}

// Range implements Store.
func (t *Table) Range(fn func([20]byte, Counts) bool) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		recs := sh.records()
		for id := range sh.nrec {
			if tor := &recs[id]; tor.state != stateFree && !fn(tor.hash, tor.counts()) {
				sh.mu.Unlock()
				return
			}
		}
		sh.mu.Unlock()
	}
}

// Stats implements Store.
func (t *Table) Stats() Stats {
	return Stats{
		Torrents:      int(t.torrents.Load()),
		Retained:      int(t.kept.Load()),
		Peers:         int(t.peers.Load()),
		Seeders:       int(t.seeders.Load()),
		Partial:       int(t.partial.Load()),
		Peers6:        int(t.peers6.Load()),
		Seeders6:      int(t.seeders6.Load()),
		Partial6:      int(t.partial6.Load()),
		Active:        int(t.active.Load()),
		Memory:        t.mem.used.Load(),
		MemoryBudget:  t.mem.max.Load(),
		CapTorrents:   t.capTorrents.Load(),
		CapPeers:      t.capPeers.Load(),
		CapSwarm:      t.capSwarm.Load(),
		CapMemory:     t.capMemory.Load(),
		QuotaTorrents: t.quotaTorrents.Load(),
		QuotaPeers:    t.quotaPeers.Load(),
		Panics:        t.panics.Load(),
	}
}

// Expire implements Store.
func (t *Table) Expire() {
	for i := range t.shards {
		t.cleanShard(i)
	}
}

// Run expires peers in the background until ctx is done, one shard per step, so
// that every shard is swept cleanPasses times per peer timeout and no step holds
// more than one shard's lock. A step that panics (a bug) must not end the process
// and every swarm with it: the step is dropped, counted and logged with a fixed
// message, and the cleaner goes on; that shard is swept again on the next pass.
func (t *Table) Run(ctx context.Context, log *slog.Logger) {
	step := t.cleanStep()
	tk := time.NewTicker(step)
	defer tk.Stop()
	for i := 0; ; i = (i + 1) % numShards {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			// A peer timeout changed by Reconfigure changes the pace.
			if s := t.cleanStep(); s != step {
				step = s
				tk.Reset(step)
			}
			if safe.Do(func() { t.cleanShard(i) }) {
				t.panics.Add(log, "swarm: cleaner panic; carrying on")
			}
		}
	}
}

func (t *Table) cleanShard(i int) {
	sh := &t.shards[i]
	now := t.now()
	sh.mu.Lock()
	// Deferred so that a panic, which Run survives, does not leave the shard
	// locked and every announce to it waiting forever.
	defer sh.mu.Unlock()
	if t.cleanFault != nil {
		t.cleanFault(i)
	}
	t.cleanLocked(sh, now)
}

// cleanLocked drops expired peers, and retained torrents past the retention, from
// one shard.
func (t *Table) cleanLocked(sh *shard, now uint32) {
	// A shard unswept for staleTicks (the process was stopped, or starved for hours)
	// may hold ages that wrapped and can no longer be trusted: it is emptied, erring
	// towards forgetting, since live peers simply announce again.
	stale := now-sh.lastClean > staleTicks
	// Retained torrents' 16-bit minutes wrap only after 45 days unswept.
	keptStale := time.Duration(now-sh.lastClean)*t.tick >= minuteMask*time.Minute
	sh.lastClean = now
	minute := t.minute()
	retain := t.retain.Load()
	recs := sh.records()
	var oldest uint32
	var oldestAge uint16
	for id := range sh.nrec {
		tor := &recs[id]
		switch tor.state {
		case stateKept:
			if a := minute - tor.since; keptStale || uint32(a) >= retain {
				t.dropKept(sh, id)
			} else if oldest == 0 || a > oldestAge {
				oldest, oldestAge = uint32(tor.since)|hintValid, a
			}
		case stateLive:
			wasActive := tor.active()
			t.expire(sh, tor, now, stale)
			t.settle(sh, hashOf(&tor.hash), id, tor, wasActive)
		}
	}
	if sh.kept.Load() > 0 {
		sh.oldest.Store(oldest)
	}
	sh.shrink(t.mem)
}

// expire drops tor's peers not heard from for the peer timeout, keeping the rest
// in place, in order.
func (t *Table) expire(sh *shard, tor *torrent, now uint32, stale bool) {
	b := sh.block(tor, t.seed)
	timeout := t.timeout.Load()
	gone := func(v6 bool, i int) bool {
		m := b.meta(v6, i)
		if !stale && age(m, now) <= timeout {
			return false
		}
		t.forget(tor, metaStatus(m), v6)
		t.quota.givePeer(recSource(v6, b.rec(v6, i)))
		return true
	}
	removed := 0
	for _, v6 := range [...]bool{false, true} {
		n, kept := b.n4, 0
		if v6 {
			n = b.n6
		}
		for i := range n {
			if gone(v6, i) {
				continue
			}
			if kept != i {
				copy(b.rec(v6, kept), b.rec(v6, i))
			}
			kept++
		}
		removed += n - kept
		if v6 {
			t.peers6.Add(-int64(n - kept))
			b.n6 = kept
		} else {
			b.n4 = kept
		}
	}
	if removed == 0 {
		return
	}
	t.peers.Add(-int64(removed))
	tor.n4, tor.n6 = uint32(b.n4), uint32(b.n6)
	b.reindex()
	t.fit(sh, tor)
}
