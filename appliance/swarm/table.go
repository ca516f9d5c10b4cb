package swarm

import (
	"context"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/clock"
)

// Time is kept in ticks of PeerTimeout/timeoutTicks. A record's 14-bit tick is exact
// for 2^14 ticks, 16 peer timeouts; the cleaner passes every shard each
// PeerTimeout/cleanPasses, and a shard somehow left unswept for staleTicks is swept
// before it is used, so no age is ever read after it has wrapped.
const (
	timeoutTicks = 1024
	staleTicks   = 8 * timeoutTicks
	cleanPasses  = 8
	numShards    = 64 // a power of two
)

// Table is the compact, sharded Store. Each shard has its own lock and map from
// info-hash to swarm; a swarm holds its peers as sorted compact records (peers.go).
type Table struct {
	opts  Opts
	clock clock.Clock
	epoch time.Time
	tick  time.Duration
	seed  maphash.Seed

	torrents, peers, seeders, partial, active atomic.Int64
	capTorrents, capPeers, capSwarm           atomic.Uint64

	shards [numShards]shard
}

type shard struct {
	mu        sync.Mutex
	swarms    map[[20]byte]*torrent
	lastClean uint32
	_         [32]byte // keep neighbouring shards' locks off one cache line
}

// torrent is one swarm: 48 bytes of heap plus its records. Most LAN swarms have no
// IPv6 peer, so their IPv6 records sit behind a pointer that is usually nil.
type torrent struct {
	v4        []byte
	v6        *[]byte
	seeders   uint32
	partial   uint32
	completed uint32
}

var _ Store = (*Table)(nil)

// New returns an empty Table. Caps of zero or less mean "no cap".
func New(o Opts, c clock.Clock) *Table {
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 45 * time.Minute
	}
	t := &Table{opts: o, clock: c, epoch: c.Now(), seed: maphash.MakeSeed()}
	t.tick = max(o.PeerTimeout/timeoutTicks, time.Nanosecond)
	for i := range t.shards {
		t.shards[i].swarms = make(map[[20]byte]*torrent)
	}
	return t
}

func (t *Table) now() uint32 { return uint32(t.clock.Now().Sub(t.epoch) / t.tick) }

func (t *Table) shard(h *[20]byte) *shard {
	return &t.shards[maphash.Bytes(t.seed, h[:])&(numShards-1)]
}

func (tor *torrent) list(fam int) list {
	if fam == key4 {
		return list{recs: tor.v4, stride: stride4}
	}
	if tor.v6 == nil {
		return list{stride: stride6}
	}
	return list{recs: *tor.v6, stride: stride6}
}

func (tor *torrent) setList(l list) {
	if l.stride == stride4 {
		tor.v4 = l.recs
	} else if l.recs == nil {
		tor.v6 = nil
	} else if tor.v6 == nil {
		v6 := new([]byte)
		*v6 = l.recs
		tor.v6 = v6
	} else {
		*tor.v6 = l.recs
	}
}

func (tor *torrent) len() int {
	n := len(tor.v4) / stride4
	if tor.v6 != nil {
		n += len(*tor.v6) / stride6
	}
	return n
}

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
	sh := t.shard(&p.InfoHash)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if now-sh.lastClean > staleTicks {
		t.cleanLocked(sh, now)
	}

	tor := sh.swarms[p.InfoHash]
	if tor == nil {
		if p.Stopped {
			r.Counts = Counts{}
			return nil
		}
		if t.opts.MaxTorrents > 0 && t.torrents.Load() >= int64(t.opts.MaxTorrents) {
			t.capTorrents.Add(1)
			return ErrTooManyTorrents
		}
		tor = &torrent{}
	}
	wasActive := tor.active()
	l := tor.list(key.n)
	i, found := l.search(key.bytes())

	switch {
	case p.Stopped:
		if found {
			t.forget(tor, metaStatus(l.meta(i)))
			t.peers.Add(-1)
			l.remove(i)
			l.shrink()
			tor.setList(l)
		}
		r.Counts = tor.counts()
		t.settle(sh, p, tor, wasActive)
		return nil
	case found:
		old := metaStatus(l.meta(i))
		if old != p.Status {
			t.forget(tor, old)
			t.count(tor, p.Status)
		}
		if p.Completed && p.Status == Seeder && old != Seeder {
			tor.completed++
		}
		l.setMeta(i, makeMeta(p.Status, now))
	default:
		if err := t.admit(tor); err != nil {
			return err
		}
		if tor.len() == 0 {
			sh.swarms[p.InfoHash] = tor
			t.torrents.Add(1)
		}
		l.insert(i, key.bytes(), makeMeta(p.Status, now))
		tor.setList(l)
		t.count(tor, p.Status)
		if p.Completed && p.Status == Seeder {
			tor.completed++
		}
	}
	t.settle(sh, p, tor, wasActive)
	r.Counts = tor.counts()
	tor.pick(p, key, r, now)
	return nil
}

// admit applies the caps to a peer about to be added to tor.
func (t *Table) admit(tor *torrent) error {
	if t.opts.MaxPeersPerTorrent > 0 && tor.len() >= t.opts.MaxPeersPerTorrent {
		t.capSwarm.Add(1)
		return ErrSwarmFull
	}
	if n := t.peers.Add(1); t.opts.MaxPeers > 0 && n > int64(t.opts.MaxPeers) {
		t.peers.Add(-1)
		t.capPeers.Add(1)
		return ErrTooManyPeers
	}
	return nil
}

// count adds a peer of status s to tor's and the store's tallies; forget takes one
// away. The store-wide peer count itself moves in admit and forget.
func (t *Table) count(tor *torrent, s Status) {
	switch s {
	case Seeder:
		tor.seeders++
		t.seeders.Add(1)
	case PartialSeed:
		tor.partial++
		t.partial.Add(1)
	}
}

func (t *Table) forget(tor *torrent, s Status) {
	switch s {
	case Seeder:
		tor.seeders--
		t.seeders.Add(-1)
	case PartialSeed:
		tor.partial--
		t.partial.Add(-1)
	}
}

// settle updates the active-swarm tally and drops a swarm that has emptied.
func (t *Table) settle(sh *shard, p *Params, tor *torrent, wasActive bool) {
	if a := tor.active(); a != wasActive {
		if a {
			t.active.Add(1)
		} else {
			t.active.Add(-1)
		}
	}
	if tor.len() == 0 && sh.swarms[p.InfoHash] == tor {
		delete(sh.swarms, p.InfoHash)
		t.torrents.Add(-1)
	}
}

// Scrape implements Store.
func (t *Table) Scrape(h [20]byte) Counts {
	sh := t.shard(&h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if tor := sh.swarms[h]; tor != nil {
		return tor.counts()
	}
	return Counts{}
}

// Range implements Store.
func (t *Table) Range(fn func([20]byte, Counts) bool) {
	for i := range t.shards {
		sh := &t.shards[i]
		sh.mu.Lock()
		for h, tor := range sh.swarms {
			if !fn(h, tor.counts()) {
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
		Torrents:    int(t.torrents.Load()),
		Peers:       int(t.peers.Load()),
		Seeders:     int(t.seeders.Load()),
		Partial:     int(t.partial.Load()),
		Active:      int(t.active.Load()),
		CapTorrents: t.capTorrents.Load(),
		CapPeers:    t.capPeers.Load(),
		CapSwarm:    t.capSwarm.Load(),
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
// more than one shard's lock.
func (t *Table) Run(ctx context.Context) {
	step := max(t.opts.PeerTimeout/(cleanPasses*numShards), 10*time.Millisecond)
	tk := time.NewTicker(step)
	defer tk.Stop()
	for i := 0; ; i = (i + 1) % numShards {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			t.cleanShard(i)
		}
	}
}

func (t *Table) cleanShard(i int) {
	sh := &t.shards[i]
	now := t.now()
	sh.mu.Lock()
	t.cleanLocked(sh, now)
	sh.mu.Unlock()
}

// cleanLocked drops expired peers and emptied swarms from one shard.
func (t *Table) cleanLocked(sh *shard, now uint32) {
	// A shard unswept for staleTicks (the process was stopped, or starved for hours)
	// may hold ages that wrapped and can no longer be trusted: it is emptied, erring
	// towards forgetting, since live peers simply announce again.
	stale := now-sh.lastClean > staleTicks
	sh.lastClean = now
	for h, tor := range sh.swarms {
		wasActive := tor.active()
		for _, fam := range [...]int{key4, key6} {
			l := tor.list(fam)
			kept := l.recs[:0]
			for j := 0; j < l.len(); j++ {
				m := l.meta(j)
				if stale || age(m, now) > timeoutTicks {
					t.forget(tor, metaStatus(m))
					t.peers.Add(-1)
					continue
				}
				kept = append(kept, l.rec(j)...)
			}
			l.recs = kept
			l.shrink()
			tor.setList(l)
		}
		if a := tor.active(); a != wasActive {
			if a {
				t.active.Add(1)
			} else {
				t.active.Add(-1)
			}
		}
		if tor.len() == 0 {
			delete(sh.swarms, h)
			t.torrents.Add(-1)
		}
	}
}
