package swarmtest

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
)

// testReconfigure: each cap, changed on a store that holds peers, takes effect
// from the next announce, and nothing already stored is dropped.
func testReconfigure(t *testing.T, ns NewStore) {
	for _, tc := range []struct {
		name   string
		before swarm.Opts
		after  swarm.Opts
		// next is the announce that the new cap decides, from a new peer.
		next    func(f *fixture) error
		wantErr error // nil: next is let in
	}{
		{"torrents lowered", swarm.Opts{}, swarm.Opts{MaxTorrents: 2},
			func(f *fixture) error { _, err := f.announce(Hash(99), Addr4(99), swarm.Leecher); return err }, swarm.ErrTooManyTorrents},
		{"torrents raised", swarm.Opts{MaxTorrents: 3}, swarm.Opts{MaxTorrents: 4},
			func(f *fixture) error { _, err := f.announce(Hash(99), Addr4(99), swarm.Leecher); return err }, nil},
		{"peers lowered", swarm.Opts{}, swarm.Opts{MaxPeers: 1},
			func(f *fixture) error { _, err := f.announce(Hash(1), Addr4(99), swarm.Leecher); return err }, swarm.ErrTooManyPeers},
		{"peers raised", swarm.Opts{MaxPeers: 4}, swarm.Opts{MaxPeers: 5},
			func(f *fixture) error { _, err := f.announce(Hash(1), Addr4(99), swarm.Leecher); return err }, nil},
		{"per torrent lowered", swarm.Opts{}, swarm.Opts{MaxPeersPerTorrent: 1},
			func(f *fixture) error { _, err := f.announce(Hash(1), Addr4(99), swarm.Leecher); return err }, swarm.ErrSwarmFull},
		{"per torrent raised", swarm.Opts{MaxPeersPerTorrent: 2}, swarm.Opts{MaxPeersPerTorrent: 3},
			func(f *fixture) error { _, err := f.announce(Hash(1), Addr4(99), swarm.Leecher); return err }, nil},
		{"source peers on", swarm.Opts{}, swarm.Opts{SourceMaxPeers: 1},
			// Counting starts at the change: the first new peer of a source fits,
			// its second does not.
			func(f *fixture) error {
				f.mustAnnounce(Hash(1), Addr4(98), swarm.Leecher)
				_, err := f.announce(Hash(2), netip.AddrPortFrom(Addr4(98).Addr(), 7), swarm.Leecher)
				return err
			}, swarm.ErrSourcePeers},
		{"source torrents on", swarm.Opts{}, swarm.Opts{SourceMaxNewTorrents: 1},
			func(f *fixture) error {
				src := netip.MustParseAddr("10.9.9.9")
				f.mustAnnounce(Hash(97), Addr4(97), swarm.Leecher, from(src))
				_, err := f.announce(Hash(98), Addr4(97), swarm.Leecher, from(src))
				return err
			}, swarm.ErrSourceTorrents},
		{"source torrents off", swarm.Opts{SourceMaxNewTorrents: 1}, swarm.Opts{},
			func(f *fixture) error {
				_, err := f.announce(Hash(98), Addr4(1), swarm.Leecher)
				return err
			}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, ns, tc.before)
			// Three torrents, four peers: 1 holds two, 2 and 3 one each.
			f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher)
			f.mustAnnounce(Hash(1), Addr4(2), swarm.Seeder)
			f.mustAnnounce(Hash(2), Addr4(3), swarm.Leecher)
			f.mustAnnounce(Hash(3), Addr4(4), swarm.Leecher)
			tc.after.PeerTimeout = Timeout
			if err := f.s.Reconfigure(tc.after); err != nil {
				t.Fatalf("Reconfigure: %v", err)
			}
			if err := tc.next(f); !errors.Is(err, tc.wantErr) {
				t.Errorf("next announce: err %v, want %v", err, tc.wantErr)
			}
			// Nothing stored was dropped, and the stored peers still announce,
			// even over a lowered cap.
			if r := f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher); !contains(Peers(r), Addr4(2)) {
				t.Errorf("a stored peer is gone: %v", Peers(r))
			}
			if st := f.s.Stats(); st.Peers < 4 || st.Torrents < 3 {
				t.Errorf("stats %+v: a peer or torrent was dropped", st)
			}
		})
	}

	t.Run("memory budget below use", func(t *testing.T) {
		f := newFixture(t, ns, swarm.Opts{})
		for i := range 50 {
			f.mustAnnounce(Hash(i), Addr4(i), swarm.Leecher)
		}
		before := f.s.Stats()
		if err := f.s.Reconfigure(swarm.Opts{PeerTimeout: Timeout, MaxMemory: 1}); err != nil {
			t.Fatalf("Reconfigure: %v", err)
		}
		var err error
		for i := 1000; i < 1000+10000 && err == nil; i++ {
			_, err = f.announce(Hash(i), Addr4(i), swarm.Leecher)
		}
		if !errors.Is(err, swarm.ErrMemoryFull) {
			t.Errorf("new torrents over the lowered budget: err %v, want ErrMemoryFull", err)
		}
		for i := range 50 {
			f.mustAnnounce(Hash(i), Addr4(i), swarm.Seeder)
		}
		if st := f.s.Stats(); st.Peers < before.Peers || st.MemoryBudget != 1 {
			t.Errorf("stats %+v after lowering the budget; before %+v", st, before)
		}
	})

	t.Run("peer timeout shortened", func(t *testing.T) {
		f := newFixture(t, ns, swarm.Opts{})
		f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher)
		if err := f.s.Reconfigure(swarm.Opts{PeerTimeout: Timeout / 3}); err != nil {
			t.Fatalf("Reconfigure: %v", err)
		}
		f.clock.Advance(Timeout/3 + time.Minute)
		f.s.Expire()
		if st := f.s.Stats(); st.Peers != 0 {
			t.Errorf("a peer older than the new timeout is kept: %+v", st)
		}
	})

	t.Run("peer timeout out of reach", func(t *testing.T) {
		f := newFixture(t, ns, swarm.Opts{})
		f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher)
		err := f.s.Reconfigure(swarm.Opts{PeerTimeout: 100 * Timeout, MaxTorrents: 1})
		if !errors.Is(err, swarm.ErrRestart) {
			t.Fatalf("Reconfigure to 100 × the timeout: err %v, want ErrRestart", err)
		}
		// The rest applied; the old timeout still holds.
		if _, err := f.announce(Hash(2), Addr4(2), swarm.Leecher); !errors.Is(err, swarm.ErrTooManyTorrents) {
			t.Errorf("the cap given with it: err %v, want ErrTooManyTorrents", err)
		}
		f.clock.Advance(Timeout + time.Minute)
		f.s.Expire()
		if st := f.s.Stats(); st.Peers != 0 {
			t.Errorf("the old timeout no longer holds: %+v", st)
		}
	})
}

// testReconfigureUnderLoad: announces run while the caps change back and forth;
// every stored peer stays stored, and no announce fails but for a cap.
func testReconfigureUnderLoad(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	const workers, rounds, peersEach = 4, 200, 8
	var announcers, reconfigurer sync.WaitGroup
	var bad atomic.Value
	stop := make(chan struct{})
	for w := range workers {
		announcers.Go(func() {
			for range rounds {
				for p := range peersEach {
					params := swarm.Params{InfoHash: Hash(w), Addr: Addr4(w*peersEach + p), NumWant: 50, Families: swarm.AnyFamily}
					var res swarm.Result
					if err := f.s.Announce(&params, &res); err != nil {
						bad.Store(err)
						return
					}
				}
			}
		})
	}
	reconfigurer.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			// Caps that never bind on these peers, set and lifted again and again.
			o := swarm.Opts{PeerTimeout: Timeout, MaxPeers: 1000 + i%2, MaxTorrents: 100 + i%3,
				MaxMemory: int64(64<<20 + i%2), SourceMaxPeers: 100 * (i % 2)}
			if err := f.s.Reconfigure(o); err != nil {
				bad.Store(err)
				return
			}
			time.Sleep(50 * time.Microsecond)
		}
	})
	announcers.Wait()
	close(stop)
	reconfigurer.Wait()
	if err := bad.Load(); err != nil {
		t.Fatalf("during reconfiguration: %v", err)
	}
	if st := f.s.Stats(); st.Peers != workers*peersEach || st.Torrents != workers {
		t.Errorf("stats %+v, want %d peers in %d torrents", st, workers*peersEach, workers)
	}
}
