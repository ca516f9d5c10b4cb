package swarm

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/hw/clock"
)

func TestClasses(t *testing.T) {
	for n := range 200_000 {
		c := classFor(n)
		if c > maxClass {
			t.Fatalf("classFor(%d) = %d, beyond the last class", n, c)
		}
		w := classWords(c)
		if w < n || (c > 0 && classWords(c-1) >= n) {
			t.Fatalf("classFor(%d) = %d (%d words): not the smallest class that fits", n, c, w)
		}
		if n > 8 && (w-n)*8 > w {
			t.Fatalf("class %d wastes %d of %d words for %d", c, w-n, w, n)
		}
	}
	if w := classWords(maxClass); w < 1<<24 {
		t.Errorf("the last class holds %d words; a swarm of a million IPv6 peers needs more", w)
	}
	if s := idxSlots(idxMinClass); s*3 < classWords(idxMinClass)*4 {
		t.Errorf("index of %d slots for %d records: load above 3/4", s, classWords(idxMinClass))
	}
}

// model is what the store should hold, kept the plain way.
type model map[[20]byte]map[netip.AddrPort]Status

// TestAgainstModel drives a store with random announces, stops and expiries over
// swarms from a handful of peers to thousands (small blocks, indexed blocks, blocks
// that grow, shrink and are compacted), and checks every answer against a model.
func TestAgainstModel(t *testing.T) {
	c := clock.NewFake(time.Unix(1e9, 0))
	s := New(Opts{PeerTimeout: time.Hour}, c)
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	m := model{}
	sizes := []int{1, 3, 9, 40, 150, 700, 3000}
	addr := func(n int) netip.AddrPort {
		if n%3 == 0 {
			return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 1, 15: byte(n), 14: byte(n >> 8)}), uint16(n))
		}
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(n >> 8), byte(n)}), uint16(1000+n%7))
	}
	ops := 60_000
	if testing.Short() {
		ops = 10_000
	}
	for op := range ops {
		tn := rng.IntN(len(sizes))
		h := [20]byte{byte(tn), 'm'}
		pn := rng.IntN(sizes[tn])
		a := addr(pn)
		st := Status(rng.IntN(3))
		p := Params{InfoHash: h, Addr: a, Status: st, NumWant: 1000, Families: AnyFamily}
		if rng.IntN(4) == 0 {
			p.Stopped = true
		}
		var r Result
		if err := s.Announce(&p, &r); err != nil {
			t.Fatalf("op %d: %v", op, err)
		}
		peers := m[h]
		if p.Stopped {
			delete(peers, a)
		} else {
			if peers == nil {
				peers = map[netip.AddrPort]Status{}
				m[h] = peers
			}
			peers[a] = st
		}
		if want := m.counts(h); r.Counts != want {
			t.Fatalf("op %d: counts %+v, want %+v", op, r.Counts, want)
		}
		if !p.Stopped {
			checkPeers(t, op, r, peers, a, st)
		}
		if op%5000 == 4999 { // let part of the store expire
			c.Advance(40 * time.Minute)
			for h, peers := range m {
				for a := range peers {
					if rng.IntN(2) == 0 {
						var r Result
						p := Params{InfoHash: h, Addr: a, Status: peers[a], Families: AnyFamily}
						if err := s.Announce(&p, &r); err != nil {
							t.Fatal(err)
						}
					} else {
						delete(peers, a) // not refreshed: gone after the timeout
					}
				}
			}
			c.Advance(30 * time.Minute)
			s.Expire()
		}
	}
	for h := range m {
		if got, want := s.Scrape(h), m.counts(h); got != want {
			t.Errorf("scrape %q: %+v, want %+v", h[:2], got, want)
		}
	}
	peers := 0
	for _, ps := range m {
		peers += len(ps)
	}
	if st := s.Stats(); st.Peers != peers {
		t.Errorf("stats %+v, model has %d peers", st, peers)
	}
}

func (m model) counts(h [20]byte) Counts {
	var c Counts
	for _, st := range m[h] {
		switch st {
		case Seeder:
			c.Seeders++
		case PartialSeed:
			c.Partial++
			c.Leechers++
		default:
			c.Leechers++
		}
	}
	return c
}

// checkPeers: a reply of at most 1000 peers holds every peer the requester may be
// sent, once, and no other.
func checkPeers(t *testing.T, op int, r Result, peers map[netip.AddrPort]Status, self netip.AddrPort, st Status) {
	t.Helper()
	want := 0
	for a, s := range peers {
		if a != self && (st == Leecher || s == Leecher) {
			want++
		}
	}
	got := map[netip.AddrPort]bool{}
	add := func(a netip.AddrPort) {
		if got[a] {
			t.Fatalf("op %d: %v sent twice", op, a)
		}
		got[a] = true
		if s, ok := peers[a]; !ok || a == self || (st != Leecher && s != Leecher) {
			t.Fatalf("op %d: %v sent, but it is not a peer to send", op, a)
		}
	}
	for b := r.Peers4; len(b) >= 6; b = b[6:] {
		add(netip.AddrPortFrom(netip.AddrFrom4([4]byte(b)), uint16(b[4])<<8|uint16(b[5])))
	}
	for b := r.Peers6; len(b) >= 18; b = b[18:] {
		add(netip.AddrPortFrom(netip.AddrFrom16([16]byte(b)), uint16(b[16])<<8|uint16(b[17])))
	}
	if len(got) != min(want, 1000) {
		t.Fatalf("op %d: %d peers sent, want %d", op, len(got), want)
	}
}

// Memory given back: a store that filled and emptied holds little, and Close
// gives back everything.
func TestMemoryReturns(t *testing.T) {
	c := clock.NewFake(time.Unix(1e9, 0))
	s := New(Opts{PeerTimeout: time.Minute}, c)
	for i := range 200_000 {
		p := Params{InfoHash: [20]byte{byte(i), byte(i >> 8), byte(i >> 16)}, Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1), Families: AnyFamily}
		if err := s.Announce(&p, &Result{}); err != nil {
			t.Fatal(err)
		}
	}
	full := s.Stats().Memory
	c.Advance(2 * time.Minute)
	s.Expire()
	st := s.Stats()
	if st.Torrents != 0 || st.Peers != 0 {
		t.Fatalf("stats %+v after everyone expired", st)
	}
	if st.Memory > full/2 {
		t.Errorf("emptied store holds %d bytes of the %d it held full", st.Memory, full)
	}
	s.Close()
	if st := s.Stats(); st.Memory != 0 {
		t.Errorf("closed store holds %d bytes", st.Memory)
	}
}

func ExampleTable_Stats() {
	s := New(Opts{Retention: time.Hour}, clock.NewFake(time.Unix(0, 0)))
	defer s.Close()
	p := Params{InfoHash: [20]byte{1}, Addr: netip.MustParseAddrPort("10.0.0.1:6881"), Status: Seeder, Completed: true}
	_ = s.Announce(&p, &Result{})
	p.Stopped = true
	_ = s.Announce(&p, &Result{})
	st := s.Stats()
	fmt.Println(st.Torrents, st.Retained, st.Peers, s.Scrape(p.InfoHash).Completed)
	// Output: 1 1 0 1
}
