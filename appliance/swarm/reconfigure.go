package swarm

import (
	"errors"
	"fmt"
	"time"
)

// ErrRestart marks a setting Reconfigure could not apply to a running store: only
// a new store, which starts empty, can take it.
var ErrRestart = errors.New("takes a restart")

// Peer timeouts a running store can move to, relative to the one it started with:
// its ages are kept in ticks of that timeout/timeoutTicks, 14 bits of them. A
// timeout many times longer would let ages wrap before the cleaner reads them; one
// many times shorter would leave too few ticks to tell a live peer from an
// expired one.
const (
	maxTimeoutTicks = 4 * timeoutTicks
	minTimeoutTicks = timeoutTicks / 16
)

// Reconfigure applies o to the running store, without dropping a swarm or a peer.
// Lowered caps (torrents, peers, peers per torrent, the memory budget) refuse what
// would go beyond them from the next announce on and remove nothing already
// stored: a store over a cap shrinks to it as peers leave and time out. The peer
// timeout and the retention apply to peers and swarms already stored, at the
// cleaner's next pass. The source quotas change at once; a quota turned on, and
// a new source window, start counting from zero (see quotas.set).
//
// A peer timeout more than 4 times or less than a 16th of the one the store
// started with cannot be kept: everything else is applied, and the error, which
// wraps ErrRestart, names it. An error also reports a quota that could not be
// turned on for want of memory.
func (t *Table) Reconfigure(o Opts) error {
	t.reconfig.Lock()
	defer t.reconfig.Unlock()
	var errs []error
	if o.PeerTimeout <= 0 {
		o.PeerTimeout = 45 * time.Minute
	}
	ticks := o.PeerTimeout / t.tick
	if ticks > maxTimeoutTicks || ticks < minTimeoutTicks {
		errs = append(errs, fmt.Errorf("swarm: peer timeout %v: the store started with %v, and keeps ages for between %v and %v: %w",
			o.PeerTimeout, t.tick*timeoutTicks, t.tick*minTimeoutTicks, t.tick*maxTimeoutTicks, ErrRestart))
		o.PeerTimeout = t.opts.PeerTimeout
	} else {
		t.timeout.Store(uint32(ticks))
	}
	t.setCaps(o)
	if err := t.quota.set(o, t.mem, t.clock.Now().Sub(t.epoch)); err != nil {
		errs = append(errs, err)
	}
	t.opts = o
	return errors.Join(errs...)
}

// setCaps stores o's caps, budget and retention, where announces read them.
func (t *Table) setCaps(o Opts) {
	t.maxTorrents.Store(int64(max(o.MaxTorrents, 0)))
	t.maxPeers.Store(int64(max(o.MaxPeers, 0)))
	t.maxPerTorrent.Store(int64(max(o.MaxPeersPerTorrent, 0)))
	t.mem.max.Store(max(o.MaxMemory, 0))
	var retain uint32
	if o.Retention > 0 {
		retain = uint32(min((o.Retention+time.Minute-1)/time.Minute, minuteMask))
	}
	t.retain.Store(retain)
}

// cleanStep is how often the cleaner sweeps a shard: each shard cleanPasses
// times per peer timeout.
func (t *Table) cleanStep() time.Duration {
	timeout := time.Duration(t.timeout.Load()) * t.tick
	return max(timeout/(cleanPasses*numShards), 10*time.Millisecond)
}
