// Package swarmtest holds the Store contract tests. Every swarm.Store implementation
// runs them from its own tests:
//
//	func TestContract(t *testing.T) { swarmtest.Run(t, func(o swarm.Opts, c clock.Clock) swarm.Store { return New(o, c) }) }
package swarmtest

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// NewStore builds the store under test with the given options and clock.
type NewStore func(swarm.Opts, clock.Clock) swarm.Store

// Timeout is the peer timeout the contract tests use.
const Timeout = 45 * time.Minute

// Run runs every contract test against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, NewStore)
	}{
		{"PeersSeeEachOther", testPeersSeeEachOther},
		{"NeverReturnsRequester", testNeverReturnsRequester},
		{"SeedersGetDownloadersOnly", testSeedersGetDownloadersOnly},
		{"StatusChangesCounts", testStatusChangesCounts},
		{"StoppedRemoves", testStoppedRemoves},
		{"CompletedCountedOnce", testCompletedCountedOnce},
		{"Expiry", testExpiry},
		{"CapTorrents", testCapTorrents},
		{"CapPeers", testCapPeers},
		{"CapSwarm", testCapSwarm},
		{"NumWantAndRandom", testNumWantAndRandom},
		{"Families", testFamilies},
		{"FamilyCounts", testFamilyCounts},
		{"ScrapeAndRange", testScrapeAndRange},
		{"Concurrent", testConcurrent},
		{"SnatchesOutliveSwarm", testSnatchesOutliveSwarm},
		{"RetainedMakeRoom", testRetainedMakeRoom},
		{"SourceNewTorrents", testSourceNewTorrents},
		{"SourcePeers", testSourcePeers},
		{"MemoryBudget", testMemoryBudget},
		{"CapsUnderRace", testCapsUnderRace},
		{"LargeSwarm", testLargeSwarm},
		{"Reconfigure", testReconfigure},
		{"ReconfigureUnderLoad", testReconfigureUnderLoad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// Hash returns a distinct info-hash for n.
func Hash(n int) [20]byte {
	var h [20]byte
	copy(h[:], fmt.Sprintf("swarmtest-hash-%05d", n))
	return h
}

// Addr4 and Addr6 return distinct peer addresses for n.
func Addr4(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(6881+n%1000))
}

func Addr6(n int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(n >> 16), byte(n >> 8), byte(n)}), uint16(6881+n%1000))
}

type fixture struct {
	t     *testing.T
	clock *clock.Fake
	s     swarm.Store
}

func newFixture(t *testing.T, newStore NewStore, o swarm.Opts) *fixture {
	if o.PeerTimeout == 0 {
		o.PeerTimeout = Timeout
	}
	c := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	return &fixture{t: t, clock: c, s: newStore(o, c)}
}

func (f *fixture) announce(h [20]byte, a netip.AddrPort, st swarm.Status, mod ...func(*swarm.Params)) (swarm.Result, error) {
	f.t.Helper()
	p := swarm.Params{InfoHash: h, Addr: a, Status: st, NumWant: 200, Families: swarm.AnyFamily}
	for _, m := range mod {
		m(&p)
	}
	var r swarm.Result
	err := f.s.Announce(&p, &r)
	return r, err
}

func (f *fixture) mustAnnounce(h [20]byte, a netip.AddrPort, st swarm.Status, mod ...func(*swarm.Params)) swarm.Result {
	f.t.Helper()
	r, err := f.announce(h, a, st, mod...)
	if err != nil {
		f.t.Fatalf("announce %v: %v", a, err)
	}
	return r
}

func stopped(p *swarm.Params) { p.Stopped = true }
func from(a netip.Addr) func(*swarm.Params) {
	return func(p *swarm.Params) { p.Source = a }
}
func completed(p *swarm.Params) { p.Completed = true }
func numWant(n int) func(*swarm.Params) {
	return func(p *swarm.Params) { p.NumWant = n }
}

// Peers decodes a result's compact peers.
func Peers(r swarm.Result) []netip.AddrPort {
	var out []netip.AddrPort
	for b := r.Peers4; len(b) >= 6; b = b[6:] {
		out = append(out, netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])))
	}
	for b := r.Peers6; len(b) >= 18; b = b[18:] {
		out = append(out, netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[:16])), uint16(b[16])<<8|uint16(b[17])))
	}
	return out
}

func contains(ps []netip.AddrPort, a netip.AddrPort) bool {
	for _, p := range ps {
		if p == a {
			return true
		}
	}
	return false
}

func wantCounts(t *testing.T, what string, got, want swarm.Counts) {
	t.Helper()
	if got != want {
		t.Errorf("%s: counts %+v, want %+v", what, got, want)
	}
}

func testPeersSeeEachOther(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(1)
	a, b := Addr4(1), Addr6(2)
	if r := f.mustAnnounce(h, a, swarm.Leecher); len(Peers(r)) != 0 {
		t.Fatalf("first peer got peers %v", Peers(r))
	}
	r := f.mustAnnounce(h, b, swarm.Leecher)
	if got := Peers(r); len(got) != 1 || got[0] != a {
		t.Fatalf("second peer got %v, want [%v]", got, a)
	}
	r = f.mustAnnounce(h, a, swarm.Leecher)
	if got := Peers(r); len(got) != 1 || got[0] != b {
		t.Fatalf("first peer again got %v, want [%v]", got, b)
	}
	wantCounts(t, "two leechers", r.Counts, swarm.Counts{Leechers: 2})
}

func testNeverReturnsRequester(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(2)
	for i := range 30 {
		f.mustAnnounce(h, Addr4(i), swarm.Leecher)
		f.mustAnnounce(h, Addr6(i), swarm.Leecher)
	}
	// Same address, other port: a different peer, which must be returned.
	other := netip.AddrPortFrom(Addr4(3).Addr(), Addr4(3).Port()+1)
	f.mustAnnounce(h, other, swarm.Leecher)
	for _, self := range []netip.AddrPort{Addr4(3), Addr6(7)} {
		r := f.mustAnnounce(h, self, swarm.Leecher)
		got := Peers(r)
		if contains(got, self) {
			t.Errorf("%v was sent itself", self)
		}
		if len(got) != 60 {
			t.Errorf("%v got %d peers, want all 60 others", self, len(got))
		}
	}
}

func testSeedersGetDownloadersOnly(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(3)
	seeds := []netip.AddrPort{Addr4(1), Addr4(2), Addr6(3)}
	partials := []netip.AddrPort{Addr4(4), Addr6(5)}
	leechers := []netip.AddrPort{Addr4(6), Addr6(7)}
	for _, a := range seeds {
		f.mustAnnounce(h, a, swarm.Seeder)
	}
	for _, a := range partials {
		f.mustAnnounce(h, a, swarm.PartialSeed)
	}
	for _, a := range leechers {
		f.mustAnnounce(h, a, swarm.Leecher)
	}
	for _, tc := range []struct {
		name string
		self netip.AddrPort
		st   swarm.Status
		want int
	}{
		{"seeder", seeds[0], swarm.Seeder, 2},
		{"partial seed", partials[0], swarm.PartialSeed, 2},
		{"leecher", leechers[0], swarm.Leecher, 6},
	} {
		r := f.mustAnnounce(h, tc.self, tc.st)
		got := Peers(r)
		if len(got) != tc.want {
			t.Errorf("%s got %d peers %v, want %d", tc.name, len(got), got, tc.want)
		}
		if tc.st != swarm.Leecher {
			for _, p := range got {
				if !contains(leechers, p) {
					t.Errorf("%s was sent %v, which is not a downloader", tc.name, p)
				}
			}
		}
		wantCounts(t, tc.name, r.Counts, swarm.Counts{Seeders: 3, Leechers: 4, Partial: 2})
	}
	// A swarm of seeders only: nothing to send, not even each other.
	h2 := Hash(4)
	f.mustAnnounce(h2, Addr4(1), swarm.Seeder)
	if r := f.mustAnnounce(h2, Addr4(2), swarm.Seeder); len(Peers(r)) != 0 {
		t.Errorf("seeder in a seed-only swarm got %v", Peers(r))
	}
}

func testStatusChangesCounts(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(5)
	a := Addr4(1)
	steps := []struct {
		st   swarm.Status
		want swarm.Counts
	}{
		{swarm.Leecher, swarm.Counts{Leechers: 1}},
		{swarm.PartialSeed, swarm.Counts{Leechers: 1, Partial: 1}},
		{swarm.Seeder, swarm.Counts{Seeders: 1}},
		{swarm.Leecher, swarm.Counts{Leechers: 1}},
	}
	for i, s := range steps {
		r := f.mustAnnounce(h, a, s.st)
		wantCounts(t, fmt.Sprintf("step %d", i), r.Counts, s.want)
	}
	st := f.s.Stats()
	if st.Peers != 1 || st.Seeders != 0 || st.Partial != 0 || st.Torrents != 1 {
		t.Errorf("stats %+v, want 1 peer, 1 torrent, no seeders", st)
	}
}

func testStoppedRemoves(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(6)
	f.mustAnnounce(h, Addr4(1), swarm.Seeder)
	f.mustAnnounce(h, Addr4(2), swarm.Leecher)
	r := f.mustAnnounce(h, Addr4(2), swarm.Leecher, stopped)
	if len(Peers(r)) != 0 {
		t.Errorf("stopped peer was sent %v", Peers(r))
	}
	wantCounts(t, "after stop", r.Counts, swarm.Counts{Seeders: 1})
	// Stopping twice, or stopping a stranger, changes nothing and creates nothing.
	f.mustAnnounce(h, Addr4(2), swarm.Leecher, stopped)
	f.mustAnnounce(Hash(99), Addr4(2), swarm.Leecher, stopped)
	if st := f.s.Stats(); st.Torrents != 1 || st.Peers != 1 {
		t.Errorf("stats %+v, want 1 torrent with 1 peer", st)
	}
	f.mustAnnounce(h, Addr4(1), swarm.Seeder, stopped)
	if st := f.s.Stats(); st.Torrents != 0 || st.Peers != 0 || st.Seeders != 0 {
		t.Errorf("empty swarm not forgotten: %+v", st)
	}
	wantCounts(t, "scrape of forgotten swarm", f.s.Scrape(h), swarm.Counts{})
}

func testCompletedCountedOnce(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(7)
	f.mustAnnounce(h, Addr4(1), swarm.Leecher)
	f.mustAnnounce(h, Addr4(1), swarm.Seeder, completed)
	f.mustAnnounce(h, Addr4(1), swarm.Seeder, completed) // repeated: not a new snatch
	f.mustAnnounce(h, Addr4(2), swarm.Seeder, completed) // first seen already complete
	r := f.mustAnnounce(h, Addr4(3), swarm.Leecher, completed)
	wantCounts(t, "snatches", r.Counts, swarm.Counts{Seeders: 2, Leechers: 1, Completed: 2})
}

func testExpiry(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(8)
	old, fresh := Addr4(1), Addr4(2)
	f.mustAnnounce(h, old, swarm.Seeder)
	f.mustAnnounce(Hash(9), old, swarm.Leecher)
	f.clock.Advance(Timeout - time.Minute)
	f.mustAnnounce(h, fresh, swarm.Leecher)
	f.s.Expire()
	if st := f.s.Stats(); st.Peers != 3 || st.Torrents != 2 {
		t.Fatalf("before the timeout: stats %+v, want 3 peers in 2 torrents", st)
	}
	f.clock.Advance(2 * time.Minute)
	// Past its timeout the old peer is not handed out, even before the cleaner runs.
	if r := f.mustAnnounce(h, Addr4(3), swarm.Leecher); contains(Peers(r), old) {
		t.Errorf("expired peer handed out: %v", Peers(r))
	}
	f.s.Expire()
	st := f.s.Stats()
	if st.Peers != 2 || st.Torrents != 1 || st.Seeders != 0 {
		t.Errorf("after expiry: stats %+v, want 2 peers in 1 torrent, no seeders", st)
	}
	f.clock.Advance(Timeout + time.Minute)
	f.s.Expire()
	if st := f.s.Stats(); st.Peers != 0 || st.Torrents != 0 {
		t.Errorf("after everyone timed out: stats %+v", st)
	}
}

func testCapTorrents(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{MaxTorrents: 2})
	f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher)
	f.mustAnnounce(Hash(2), Addr4(1), swarm.Leecher)
	if _, err := f.announce(Hash(3), Addr4(1), swarm.Leecher); !errors.Is(err, swarm.ErrTooManyTorrents) {
		t.Fatalf("third torrent: err %v, want ErrTooManyTorrents", err)
	}
	// Existing swarms keep working, new peers included.
	if r := f.mustAnnounce(Hash(1), Addr4(2), swarm.Leecher); len(Peers(r)) != 1 {
		t.Errorf("existing swarm stopped working: %v", Peers(r))
	}
	st := f.s.Stats()
	if st.Torrents != 2 || st.CapTorrents != 1 {
		t.Errorf("stats %+v, want 2 torrents and 1 refusal", st)
	}
}

func testCapPeers(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{MaxPeers: 3})
	f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher)
	f.mustAnnounce(Hash(1), Addr4(2), swarm.Leecher)
	f.mustAnnounce(Hash(2), Addr4(3), swarm.Leecher)
	if _, err := f.announce(Hash(1), Addr4(4), swarm.Leecher); !errors.Is(err, swarm.ErrTooManyPeers) {
		t.Errorf("fourth peer: err %v, want ErrTooManyPeers", err)
	}
	if _, err := f.announce(Hash(3), Addr4(4), swarm.Leecher); !errors.Is(err, swarm.ErrTooManyPeers) {
		t.Errorf("fourth peer in a new torrent: err %v, want ErrTooManyPeers", err)
	}
	// Known peers still announce; a leaving peer makes room.
	f.mustAnnounce(Hash(1), Addr4(1), swarm.Seeder)
	f.mustAnnounce(Hash(2), Addr4(3), swarm.Leecher, stopped)
	f.mustAnnounce(Hash(1), Addr4(4), swarm.Leecher)
	st := f.s.Stats()
	if st.Peers != 3 || st.Torrents != 1 || st.CapPeers != 2 {
		t.Errorf("stats %+v, want 3 peers, 1 torrent, 2 refusals", st)
	}
}

func testCapSwarm(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{MaxPeersPerTorrent: 2})
	f.mustAnnounce(Hash(1), Addr4(1), swarm.Leecher)
	f.mustAnnounce(Hash(1), Addr6(2), swarm.Leecher)
	if _, err := f.announce(Hash(1), Addr4(3), swarm.Leecher); !errors.Is(err, swarm.ErrSwarmFull) {
		t.Errorf("third peer: err %v, want ErrSwarmFull", err)
	}
	f.mustAnnounce(Hash(1), Addr6(2), swarm.Seeder)
	f.mustAnnounce(Hash(2), Addr4(3), swarm.Leecher)
	if st := f.s.Stats(); st.Peers != 3 || st.CapSwarm != 1 {
		t.Errorf("stats %+v, want 3 peers and 1 refusal", st)
	}
}

func testNumWantAndRandom(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(10)
	for i := range 100 {
		f.mustAnnounce(h, Addr4(i), swarm.Leecher)
	}
	seen := map[netip.AddrPort]bool{}
	for range 20 {
		r := f.mustAnnounce(h, Addr4(0), swarm.Leecher, numWant(10))
		got := Peers(r)
		if len(got) != 10 {
			t.Fatalf("numwant 10: got %d peers", len(got))
		}
		dup := map[netip.AddrPort]bool{}
		for _, p := range got {
			if dup[p] {
				t.Fatalf("peer %v sent twice in one reply", p)
			}
			dup[p], seen[p] = true, true
		}
	}
	// 20 random draws of 10 from 99 should reach far beyond one fixed window.
	if len(seen) < 40 {
		t.Errorf("selection is not random: 20 replies covered only %d of 99 peers", len(seen))
	}
	if r := f.mustAnnounce(h, Addr4(0), swarm.Leecher, numWant(0)); len(Peers(r)) != 0 {
		t.Errorf("numwant 0 got %d peers", len(Peers(r)))
	}
}

func testFamilies(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(11)
	f.mustAnnounce(h, Addr4(1), swarm.Leecher)
	f.mustAnnounce(h, Addr6(2), swarm.Leecher)
	only4 := func(p *swarm.Params) { p.Families = swarm.IPv4 }
	only6 := func(p *swarm.Params) { p.Families = swarm.IPv6 }
	r := f.mustAnnounce(h, Addr4(3), swarm.Leecher, only4)
	if got := Peers(r); len(got) != 1 || got[0] != Addr4(1) || len(r.Peers6) != 0 {
		t.Errorf("IPv4-only requester got %v", got)
	}
	r = f.mustAnnounce(h, Addr6(4), swarm.Leecher, only6)
	if got := Peers(r); len(got) != 1 || got[0] != Addr6(2) || len(r.Peers4) != 0 {
		t.Errorf("IPv6-only requester got %v", got)
	}
}

func testScrapeAndRange(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	f.mustAnnounce(Hash(1), Addr4(1), swarm.Seeder, completed)
	f.mustAnnounce(Hash(1), Addr4(2), swarm.Leecher)
	f.mustAnnounce(Hash(1), Addr6(3), swarm.PartialSeed)
	f.mustAnnounce(Hash(2), Addr4(1), swarm.Leecher)
	wantCounts(t, "scrape", f.s.Scrape(Hash(1)), swarm.Counts{Seeders: 1, Leechers: 2, Partial: 1, Completed: 1})
	wantCounts(t, "scrape unknown", f.s.Scrape(Hash(3)), swarm.Counts{})
	got := map[[20]byte]swarm.Counts{}
	f.s.Range(func(h [20]byte, c swarm.Counts) bool { got[h] = c; return true })
	if len(got) != 2 || got[Hash(2)] != (swarm.Counts{Leechers: 1}) {
		t.Errorf("range: %v", got)
	}
	n := 0
	f.s.Range(func([20]byte, swarm.Counts) bool { n++; return false })
	if n != 1 {
		t.Errorf("range did not stop when told: %d calls", n)
	}
	if st := f.s.Stats(); st.Active != 1 {
		t.Errorf("stats %+v, want 1 active swarm", st)
	}
}

func testConcurrent(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	const workers, perWorker = 4, 500
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perWorker {
				p := swarm.Params{InfoHash: Hash(i % 50), Addr: Addr4(w*perWorker + i), Status: swarm.Status(i % 3), NumWant: 50, Families: swarm.AnyFamily}
				var r swarm.Result
				if err := f.s.Announce(&p, &r); err != nil {
					t.Error(err)
					return
				}
				if i%7 == 0 {
					p.Stopped = true
					_ = f.s.Announce(&p, &r)
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // the cleaner and readers run alongside
		defer wg.Done()
		for range 50 {
			f.s.Expire()
			f.s.Stats()
			f.s.Range(func([20]byte, swarm.Counts) bool { return true })
		}
	}()
	wg.Wait()
	total := 0
	f.s.Range(func(_ [20]byte, c swarm.Counts) bool { total += c.Seeders + c.Leechers; return true })
	stopped := workers * ((perWorker + 6) / 7)
	if st := f.s.Stats(); st.Peers != total || total != workers*perWorker-stopped {
		t.Errorf("stats say %d peers, swarms hold %d, want %d", st.Peers, total, workers*perWorker-stopped)
	}
}

// testFamilyCounts: Stats splits peers, seeders and partial seeds by address
// family through every way a peer comes and goes: announce, status change,
// stop, refusal at a cap, expiry.
func testFamilyCounts(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{MaxPeersPerTorrent: 4})
	h := Hash(40)
	f.mustAnnounce(h, Addr4(1), swarm.Seeder)
	f.mustAnnounce(h, Addr6(1), swarm.Seeder)
	f.mustAnnounce(h, Addr6(2), swarm.PartialSeed)
	f.mustAnnounce(h, Addr6(3), swarm.Leecher)
	if _, err := f.announce(h, Addr6(4), swarm.Seeder); err == nil {
		t.Fatal("a fifth peer was let into a swarm capped at 4")
	}
	f.mustAnnounce(Hash(41), Addr6(5), swarm.Leecher)
	want := func(what string, peers6, seeders6, partial6 int) {
		t.Helper()
		st := f.s.Stats()
		if st.Peers6 != peers6 || st.Seeders6 != seeders6 || st.Partial6 != partial6 {
			t.Errorf("%s: IPv6 peers %d, seeders %d, partial %d; want %d, %d, %d (stats %+v)",
				what, st.Peers6, st.Seeders6, st.Partial6, peers6, seeders6, partial6, st)
		}
	}
	want("announced", 4, 1, 1)
	f.mustAnnounce(h, Addr6(3), swarm.Seeder)
	f.mustAnnounce(h, Addr6(1), swarm.Leecher)
	want("statuses changed", 4, 1, 1)
	f.mustAnnounce(h, Addr6(2), swarm.PartialSeed, stopped)
	want("a partial seed stopped", 3, 1, 0)
	f.clock.Advance(Timeout / 2)
	f.mustAnnounce(h, Addr6(3), swarm.Seeder)
	f.clock.Advance(Timeout/2 + time.Minute)
	f.s.Expire()
	want("all but one expired", 1, 1, 0)
	if st := f.s.Stats(); st.Peers != 1 || st.Seeders != 1 {
		t.Errorf("after expiry: stats %+v, want the one IPv6 seeder", st)
	}
}
