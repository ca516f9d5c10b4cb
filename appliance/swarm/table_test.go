package swarm_test

import (
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/swarm/swarmtest"
	"github.com/swarmlight/swarmlight/hw/clock"
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

// fill puts size peers (every other one a seeder) into swarm h.
func fill(tb testing.TB, s swarm.Store, h [20]byte, size int) {
	for i := range size {
		p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(i), Status: swarm.Status(i % 2), Families: swarm.AnyFamily}
		if err := s.Announce(&p, &swarm.Result{}); err != nil {
			tb.Fatal(err)
		}
	}
}

// Growing swarms and creating torrents allocates nothing on the Go heap either:
// the store's memory is its own.
func TestGrowthAllocatesNothing(t *testing.T) {
	s := swarm.New(swarm.Opts{}, clock.Real{})
	defer s.Close()
	r := swarm.Result{Peers4: make([]byte, 0, 50*6), Peers6: make([]byte, 0, 50*18)}
	hashes := make([][20]byte, 3000)
	for i := range hashes {
		hashes[i] = swarmtest.Hash(i)
	}
	i := 0
	allocs := testing.AllocsPerRun(20_000, func() {
		p := swarm.Params{InfoHash: hashes[i%len(hashes)], Addr: swarmtest.Addr4(i), NumWant: 50, Families: swarm.AnyFamily}
		r.Peers4, r.Peers6 = r.Peers4[:0], r.Peers6[:0]
		if err := s.Announce(&p, &r); err != nil {
			t.Fatal(err)
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("a new peer or torrent allocates %.2f times", allocs)
	}
}

// BenchmarkAnnounce runs in swarms from one peer to a million, where the cost must
// not grow with the swarm: "known" is a known peer re-announcing and getting 50
// peers (nearly every announce a tracker serves), "join-leave" a new peer joining
// (getting 50 peers) and leaving again, so that the swarm keeps its size.
func BenchmarkAnnounce(b *testing.B) {
	for _, joinLeave := range []bool{false, true} {
		for _, size := range []int{1, 100, 10_000, 1_000_000} {
			name := fmt.Sprintf("known/swarm=%d", size)
			if joinLeave {
				name = fmt.Sprintf("join-leave/swarm=%d", size)
			}
			b.Run(name, func(b *testing.B) {
				s := swarm.New(swarm.Opts{}, clock.Real{})
				defer s.Close()
				h := swarmtest.Hash(1)
				fill(b, s, h, size)
				r := swarm.Result{Peers4: make([]byte, 0, 50*6), Peers6: make([]byte, 0, 50*18)}
				announce := func(p *swarm.Params) {
					r.Peers4, r.Peers6 = r.Peers4[:0], r.Peers6[:0]
					if err := s.Announce(p, &r); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					// Known peers in a prime stride: every one, in no cache-friendly order.
					p := swarm.Params{InfoHash: h, Addr: swarmtest.Addr4(int(uint(i) * 7919 % uint(size))), NumWant: 50, Families: swarm.AnyFamily}
					if joinLeave {
						p.Addr = swarmtest.Addr4(size + i%1000)
						announce(&p)
						p.Stopped = true
					}
					announce(&p)
					i++
				}
			})
		}
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

// BenchmarkMemory fills stores with the loads of the memory table in BENCHMARKS.md
// and reports the store's own bytes (all outside the Go heap) per peer and per
// torrent, and what the Go heap grew by: nothing, since the store's memory is its
// own. `make bench-memory` measures the same loads as RSS of the real binary.
func BenchmarkMemory(b *testing.B) {
	for _, load := range []struct {
		name            string
		torrents, peers int
	}{
		{"1M-peers-10k-torrents", 10_000, 1_000_000},
		{"1M-torrents-1-peer", 1_000_000, 1_000_000},
		{"1M-torrents-5M-peers", 1_000_000, 5_000_000},
	} {
		b.Run(load.name, func(b *testing.B) {
			for b.Loop() {
				hashes := make([][20]byte, load.torrents)
				for i := range hashes {
					binary.LittleEndian.PutUint64(hashes[i][:], uint64(i))
				}
				base, rss := heap(), vmRSS(b)
				s := swarm.New(swarm.Opts{}, clock.Real{})
				var p swarm.Params
				var r swarm.Result
				for i := range load.peers {
					p = swarm.Params{InfoHash: hashes[i%load.torrents], Addr: swarmtest.Addr4(i), Families: swarm.AnyFamily}
					if err := s.Announce(&p, &r); err != nil {
						b.Fatal(err)
					}
				}
				st := s.Stats()
				if st.Peers != load.peers || st.Torrents != load.torrents {
					b.Fatalf("stats %+v", st)
				}
				grew := int64(heap()) - int64(base)
				b.ReportMetric(float64(vmRSS(b)-rss)/(1<<20), "rss-MiB")
				b.ReportMetric(float64(st.Memory)/float64(load.peers), "B/peer")
				b.ReportMetric(float64(st.Memory)/float64(load.torrents), "B/torrent")
				b.ReportMetric(float64(st.Memory)/(1<<20), "store-MiB")
				b.ReportMetric(float64(grew)/(1<<20), "heap-MiB")
				s.Close()
			}
		})
	}
}

// vmRSS is this process's resident set, in bytes.
func vmRSS(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				tb.Fatalf("VmRSS: %v", err)
			}
			return kb << 10
		}
	}
	return 0
}

func heap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
