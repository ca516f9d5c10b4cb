package swarm_test

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/clock"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/swarm/swarmtest"
)

func newTable(o swarm.Opts, c clock.Clock) swarm.Store { return swarm.New(o, c) }

func TestContract(t *testing.T) { swarmtest.Run(t, newTable) }

// A re-announce of a known peer, peers handed out included, must not allocate: it
// is nearly every announce a tracker serves.
func TestSteadyStateAnnounceAllocatesNothing(t *testing.T) {
	s := swarm.New(swarm.Opts{}, clock.Real{})
	h := swarmtest.Hash(1)
	for i := range 100 {
		p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(i), NumWant: 50, Families: swarm.AnyFamily}
		if err := s.Announce(&p, &swarm.Result{}); err != nil {
			t.Fatal(err)
		}
	}
	p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(7), NumWant: 50, Families: swarm.AnyFamily}
	r := swarm.Result{Peers4: make([]byte, 0, 50*6), Peers6: make([]byte, 0, 50*18)}
	allocs := testing.AllocsPerRun(200, func() {
		r.Peers4, r.Peers6 = r.Peers4[:0], r.Peers6[:0]
		if err := s.Announce(&p, &r); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("steady-state announce allocates %.1f times", allocs)
	}
	if len(r.Peers4) != 50*6 {
		t.Errorf("got %d bytes of peers, want 50 peers", len(r.Peers4))
	}
}

// The 14-bit tick wraps every 16 peer timeouts. A cleaner that keeps up never lets
// an age wrap; one starved for longer than that must not bring the dead back.
func TestStarvedCleanerNeverResurrects(t *testing.T) {
	c := clock.NewFake(time.Unix(0, 0))
	s := swarm.New(swarm.Opts{PeerTimeout: time.Minute}, c)
	h := swarmtest.Hash(1)
	p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(1), NumWant: 50, Families: swarm.AnyFamily}
	if err := s.Announce(&p, &swarm.Result{}); err != nil {
		t.Fatal(err)
	}
	c.Advance(16 * time.Minute) // exactly one wrap: the old record's age reads 0
	q := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(2), NumWant: 50, Families: swarm.AnyFamily}
	var r swarm.Result
	if err := s.Announce(&q, &r); err != nil {
		t.Fatal(err)
	}
	if got := swarmtest.Peers(r); len(got) != 0 {
		t.Errorf("peer dead for 16 timeouts handed out: %v", got)
	}
	if st := s.Stats(); st.Peers != 1 {
		t.Errorf("stats %+v, want only the new peer", st)
	}
}

func BenchmarkAnnounce(b *testing.B) {
	for _, size := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("swarm=%d", size), func(b *testing.B) {
			s := swarm.New(swarm.Opts{}, clock.Real{})
			h := swarmtest.Hash(1)
			for i := range size {
				p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(i), Status: swarm.Status(i % 2), Families: swarm.AnyFamily}
				if err := s.Announce(&p, &swarm.Result{}); err != nil {
					b.Fatal(err)
				}
			}
			r := swarm.Result{Peers4: make([]byte, 0, 50*6), Peers6: make([]byte, 0, 50*18)}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(i % size), NumWant: 50, Families: swarm.AnyFamily}
				r.Peers4, r.Peers6 = r.Peers4[:0], r.Peers6[:0]
				if err := s.Announce(&p, &r); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkAnnounceParallel(b *testing.B) {
	s := swarm.New(swarm.Opts{}, clock.Real{})
	const torrents, per = 10000, 10
	hashes := make([][20]byte, torrents)
	for i := range hashes {
		hashes[i] = swarmtest.Hash(i)
	}
	for i := range torrents * per {
		p := swarm.Params{InfoHash: hashes[i%torrents], Addr: swarmtest.Addr4(i), Families: swarm.AnyFamily}
		if err := s.Announce(&p, &swarm.Result{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := swarm.Result{Peers4: make([]byte, 0, 50*6), Peers6: make([]byte, 0, 50*18)}
		i := 0
		for pb.Next() {
			p := swarm.Params{InfoHash: hashes[i%torrents], Addr: swarmtest.Addr4(i % (torrents * per)), NumWant: 50, Families: swarm.AnyFamily}
			r.Peers4, r.Peers6 = r.Peers4[:0], r.Peers6[:0]
			if err := s.Announce(&p, &r); err != nil {
				b.Fatal(err)
			}
			i += 7919
		}
	})
}

// BenchmarkMemory fills a store with one million IPv4 peers over 100 000 torrents and
// reports heap bytes per peer and per torrent, measured after GC. Per peer is the
// marginal cost of nine more peers in every swarm; per torrent is what a one-peer
// swarm costs beyond its peer.
func BenchmarkMemory(b *testing.B) {
	const torrents = 100_000
	fill := func(perTorrent int) (swarm.Store, uint64) {
		base := heap()
		s := swarm.New(swarm.Opts{}, clock.Real{})
		for i := range torrents * perTorrent {
			p := swarm.Params{InfoHash: swarmtest.Hash(i % torrents), Addr: swarmtest.Addr4(i), Families: swarm.AnyFamily}
			if err := s.Announce(&p, &swarm.Result{}); err != nil {
				b.Fatal(err)
			}
		}
		return s, heap() - base
	}
	for b.Loop() {
		s1, one := fill(1)
		runtime.KeepAlive(s1)
		s1 = nil
		s10, ten := fill(10)
		if st := s10.Stats(); st.Peers != 10*torrents || st.Torrents != torrents {
			b.Fatalf("stats %+v", st)
		}
		runtime.KeepAlive(s10)
		perPeer := float64(ten-one) / float64(9*torrents)
		b.ReportMetric(perPeer, "B/peer")
		b.ReportMetric(float64(one)/torrents-perPeer, "B/torrent")
		b.ReportMetric(float64(ten)/(1<<20), "MiB/1M-peers")
	}
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
