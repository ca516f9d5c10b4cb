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

// A swarm that empties keeps its snatch count for the retention, and only then.
func testSnatchesOutliveSwarm(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{Retention: 24 * time.Hour})
	h := Hash(20)
	for i := range 3 {
		f.mustAnnounce(h, Addr4(i), swarm.Leecher)
		f.mustAnnounce(h, Addr4(i), swarm.Seeder, completed)
	}
	f.mustAnnounce(Hash(21), Addr4(9), swarm.Leecher) // never completed
	for i := range 3 {
		f.mustAnnounce(h, Addr4(i), swarm.Seeder, stopped)
	}
	f.mustAnnounce(Hash(21), Addr4(9), swarm.Leecher, stopped)
	wantCounts(t, "scrape of an emptied swarm", f.s.Scrape(h), swarm.Counts{Completed: 3})
	wantCounts(t, "scrape of a swarm never completed", f.s.Scrape(Hash(21)), swarm.Counts{})
	if st := f.s.Stats(); st.Torrents != 1 || st.Retained != 1 || st.Peers != 0 {
		t.Errorf("stats %+v, want 1 torrent, retained, no peers", st)
	}
	ranged := 0
	f.s.Range(func(got [20]byte, c swarm.Counts) bool {
		ranged++
		if got != h || c != (swarm.Counts{Completed: 3}) {
			t.Errorf("range: %x %+v", got, c)
		}
		return true
	})
	if ranged != 1 {
		t.Errorf("range visited %d swarms, want the retained one", ranged)
	}

	// A peer coming back finds the count; leaving again keeps it.
	f.clock.Advance(23 * time.Hour)
	f.s.Expire()
	r := f.mustAnnounce(h, Addr4(5), swarm.Leecher)
	wantCounts(t, "a peer rejoins", r.Counts, swarm.Counts{Leechers: 1, Completed: 3})
	f.mustAnnounce(h, Addr4(5), swarm.Leecher, stopped)

	// Expired peers leave it retained too; past the retention it is forgotten.
	f.mustAnnounce(h, Addr4(6), swarm.Seeder, completed)
	f.clock.Advance(Timeout + time.Minute)
	f.s.Expire()
	wantCounts(t, "after its peers expired", f.s.Scrape(h), swarm.Counts{Completed: 4})
	f.clock.Advance(24*time.Hour - time.Minute)
	f.s.Expire()
	if c := f.s.Scrape(h); c.Completed != 4 {
		t.Errorf("forgotten before the retention passed: %+v", c)
	}
	f.clock.Advance(2 * time.Minute)
	f.s.Expire()
	wantCounts(t, "past the retention", f.s.Scrape(h), swarm.Counts{})
	if st := f.s.Stats(); st.Torrents != 0 || st.Retained != 0 {
		t.Errorf("stats %+v, want nothing", st)
	}

	// Retention 0 forgets at once.
	g := newFixture(t, ns, swarm.Opts{})
	g.mustAnnounce(h, Addr4(1), swarm.Seeder, completed)
	g.mustAnnounce(h, Addr4(1), swarm.Seeder, stopped)
	wantCounts(t, "retention 0", g.s.Scrape(h), swarm.Counts{})
	if st := g.s.Stats(); st.Torrents != 0 {
		t.Errorf("retention 0: stats %+v", st)
	}
}

// At the torrent cap, retained swarms make room, the longest-empty first; swarms
// with peers never do.
func testRetainedMakeRoom(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{MaxTorrents: 3, Retention: 24 * time.Hour})
	retire := func(n int) {
		f.mustAnnounce(Hash(n), Addr4(n), swarm.Seeder, completed)
		f.mustAnnounce(Hash(n), Addr4(n), swarm.Seeder, stopped)
	}
	retire(1)
	f.clock.Advance(time.Hour)
	retire(2)
	f.mustAnnounce(Hash(3), Addr4(3), swarm.Leecher)
	f.mustAnnounce(Hash(4), Addr4(4), swarm.Leecher) // takes the place of 1, the older
	if c := f.s.Scrape(Hash(1)); c.Completed != 0 {
		t.Errorf("the longest-empty swarm was kept: %+v", c)
	}
	if c := f.s.Scrape(Hash(2)); c.Completed != 1 {
		t.Errorf("the newer retained swarm was dropped first: %+v", c)
	}
	f.mustAnnounce(Hash(5), Addr4(5), swarm.Leecher) // takes the place of 2
	if _, err := f.announce(Hash(6), Addr4(6), swarm.Leecher); !errors.Is(err, swarm.ErrTooManyTorrents) {
		t.Fatalf("a fourth live swarm: err %v, want ErrTooManyTorrents", err)
	}
	for _, n := range []int{3, 4, 5} {
		if c := f.s.Scrape(Hash(n)); c.Leechers != 1 {
			t.Errorf("live swarm %d lost: %+v", n, c)
		}
	}
	if st := f.s.Stats(); st.Torrents != 3 || st.Retained != 0 || st.CapTorrents != 1 {
		t.Errorf("stats %+v, want 3 live torrents and 1 refusal", st)
	}
}

// One source may create only so many torrents in a window; others are not held
// back by it, joining existing swarms is not limited, and the window slides.
func testSourceNewTorrents(t *testing.T, ns NewStore) {
	const window = 10 * time.Minute
	f := newFixture(t, ns, swarm.Opts{SourceMaxNewTorrents: 3, SourceWindow: window})
	flood, other := netip.MustParseAddr("10.9.9.9"), netip.MustParseAddr("10.9.9.10")
	for i := range 3 {
		f.mustAnnounce(Hash(100+i), Addr4(i), swarm.Leecher, from(flood))
	}
	if _, err := f.announce(Hash(103), Addr4(3), swarm.Leecher, from(flood)); !errors.Is(err, swarm.ErrSourceTorrents) {
		t.Fatalf("fourth new torrent: err %v, want ErrSourceTorrents", err)
	}
	f.mustAnnounce(Hash(103), Addr4(4), swarm.Leecher, from(other))
	f.mustAnnounce(Hash(103), Addr4(3), swarm.Leecher, from(flood)) // joins, creates nothing
	// Addresses in one IPv6 /64 are one source.
	v6a, v6b := netip.MustParseAddr("fd00:1:2:3::a"), netip.MustParseAddr("fd00:1:2:3:ffff::b")
	for i := range 3 {
		f.mustAnnounce(Hash(200+i), Addr6(i), swarm.Leecher, from(v6a))
	}
	if _, err := f.announce(Hash(203), Addr6(3), swarm.Leecher, from(v6b)); !errors.Is(err, swarm.ErrSourceTorrents) {
		t.Errorf("another address of the same /64: err %v, want ErrSourceTorrents", err)
	}
	if st := f.s.Stats(); st.QuotaTorrents != 2 || st.CapTorrents != 0 || st.Torrents != 7 {
		t.Errorf("stats %+v, want 7 torrents and 2 quota refusals", st)
	}
	// Within the window nothing changes; a quarter into the next one the last
	// window still counts for three quarters: full; two windows on, all is forgotten.
	f.clock.Advance(window / 2)
	if _, err := f.announce(Hash(104), Addr4(5), swarm.Leecher, from(flood)); !errors.Is(err, swarm.ErrSourceTorrents) {
		t.Errorf("later in the window: err %v, want ErrSourceTorrents", err)
	}
	f.clock.Advance(window * 3 / 4)
	if _, err := f.announce(Hash(104), Addr4(5), swarm.Leecher, from(flood)); !errors.Is(err, swarm.ErrSourceTorrents) {
		t.Errorf("a quarter into the next window: err %v, want ErrSourceTorrents", err)
	}
	f.clock.Advance(window)
	f.mustAnnounce(Hash(104), Addr4(5), swarm.Leecher, from(flood))
}

// The peers in one source's addresses number at most its quota; leaving and
// expiring give the places back.
func testSourcePeers(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{SourceMaxPeers: 3})
	host := netip.MustParseAddr("10.7.7.7")
	port := func(n int) netip.AddrPort { return netip.AddrPortFrom(host, uint16(7000+n)) }
	f.mustAnnounce(Hash(1), port(1), swarm.Leecher)
	f.mustAnnounce(Hash(1), port(2), swarm.Leecher)
	f.mustAnnounce(Hash(2), port(1), swarm.Leecher)
	for _, h := range []int{1, 3} {
		if _, err := f.announce(Hash(h), port(3), swarm.Leecher); !errors.Is(err, swarm.ErrSourcePeers) {
			t.Errorf("fourth peer entry in torrent %d: err %v, want ErrSourcePeers", h, err)
		}
	}
	f.mustAnnounce(Hash(1), port(1), swarm.Seeder) // known entries keep announcing
	f.mustAnnounce(Hash(1), Addr4(50), swarm.Leecher)
	v6 := netip.MustParseAddr("fd00:5:5:5::1")
	for i := range 3 {
		f.mustAnnounce(Hash(1), netip.AddrPortFrom(v6, uint16(100+i)), swarm.Leecher)
	}
	if _, err := f.announce(Hash(1), netip.AddrPortFrom(netip.MustParseAddr("fd00:5:5:5::2"), 1), swarm.Leecher); !errors.Is(err, swarm.ErrSourcePeers) {
		t.Errorf("fourth entry of one /64: err %v, want ErrSourcePeers", err)
	}
	f.mustAnnounce(Hash(1), port(2), swarm.Leecher, stopped)
	f.mustAnnounce(Hash(1), port(3), swarm.Leecher)
	if st := f.s.Stats(); st.QuotaPeers != 3 || st.CapPeers != 0 || st.Peers != 7 {
		t.Errorf("stats %+v, want 7 peers and 3 quota refusals", st)
	}
	f.clock.Advance(Timeout + time.Minute)
	f.s.Expire()
	for i := range 3 {
		f.mustAnnounce(Hash(9), port(10+i), swarm.Leecher)
	}
}

// A store at its memory budget refuses new torrents and peers, keeps serving the
// ones it has, and never holds more than the budget.
func testMemoryBudget(t *testing.T, ns NewStore) {
	const budget = 4 << 20
	f := newFixture(t, ns, swarm.Opts{MaxMemory: budget})
	refused := 0
	for i := 0; i < 1_000_000 && refused < 100; i++ {
		if _, err := f.announce(Hash(i%10_000), Addr4(i), swarm.Leecher); err != nil {
			if !errors.Is(err, swarm.ErrMemoryFull) {
				t.Fatalf("announce %d: err %v, want ErrMemoryFull", i, err)
			}
			refused++
		}
	}
	st := f.s.Stats()
	if refused == 0 || st.CapMemory != uint64(refused) {
		t.Fatalf("stats %+v after %d refusals: the budget never bound", st, refused)
	}
	if st.Memory > budget || st.MemoryBudget != budget {
		t.Errorf("store holds %d bytes, budget %d (stats say %d)", st.Memory, budget, st.MemoryBudget)
	}
	if st.Peers < 100_000 {
		t.Errorf("stats %+v: a %d-byte budget should hold far more", st, budget)
	}
	if r := f.mustAnnounce(Hash(0), Addr4(0), swarm.Seeder); r.Seeders != 1 || r.Leechers == 0 {
		t.Errorf("a known peer of a known swarm at the budget: %+v", r.Counts)
	}
}

// Announces racing on different shards never take the store past a cap.
func testCapsUnderRace(t *testing.T, ns NewStore) {
	const workers, each, maxTorrents, maxPeers = 8, 400, 500, 1200
	f := newFixture(t, ns, swarm.Opts{MaxTorrents: maxTorrents, MaxPeers: maxPeers})
	var ok, capT, capP atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				n := w*each + i
				// Every announce makes a new peer; three in four a new torrent.
				h := Hash(n)
				if n%4 == 0 {
					h = Hash(n + 1)
				}
				p := swarm.Params{InfoHash: h, Addr: Addr4(n), NumWant: 10, Families: swarm.AnyFamily}
				var r swarm.Result
				switch err := f.s.Announce(&p, &r); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, swarm.ErrTooManyTorrents):
					capT.Add(1)
				case errors.Is(err, swarm.ErrTooManyPeers):
					capP.Add(1)
				default:
					t.Error(err)
				}
				if st := f.s.Stats(); st.Torrents > maxTorrents || st.Peers > maxPeers {
					t.Errorf("over a cap: %+v", st)
					return
				}
			}
		}()
	}
	wg.Wait()
	st := f.s.Stats()
	if st.Torrents != maxTorrents {
		t.Errorf("torrents %d, want the cap %d exactly", st.Torrents, maxTorrents)
	}
	if int64(st.Peers) != ok.Load() || st.CapTorrents != uint64(capT.Load()) || st.CapPeers != uint64(capP.Load()) {
		t.Errorf("stats %+v, but %d stored, %d and %d refused", st, ok.Load(), capT.Load(), capP.Load())
	}
	total := 0
	f.s.Range(func(_ [20]byte, c swarm.Counts) bool { total++; return true })
	if total != st.Torrents {
		t.Errorf("range sees %d torrents, stats %d", total, st.Torrents)
	}
}

// A swarm of thousands, both families, where peers are found by index rather than
// by scanning: every peer is found again, leaves cleanly, and is handed out once.
func testLargeSwarm(t *testing.T, ns NewStore) {
	f := newFixture(t, ns, swarm.Opts{})
	h := Hash(30)
	const n4, n6 = 3000, 1000
	for i := range n4 {
		f.mustAnnounce(h, Addr4(i), swarm.Status(i%2))
	}
	for i := range n6 {
		f.mustAnnounce(h, Addr6(i), swarm.Leecher)
	}
	for i := range n4 { // known: counted once
		f.mustAnnounce(h, Addr4(i), swarm.Status(i%2))
	}
	want := swarm.Counts{Seeders: n4 / 2, Leechers: n4/2 + n6}
	wantCounts(t, "full", f.s.Scrape(h), want)
	for i := 0; i < n4; i += 3 {
		f.mustAnnounce(h, Addr4(i), swarm.Status(i%2), stopped)
		if i%2 == 1 {
			want.Seeders--
		} else {
			want.Leechers--
		}
	}
	for i := 0; i < n6; i += 2 {
		f.mustAnnounce(h, Addr6(i), swarm.Leecher, stopped)
		want.Leechers--
	}
	wantCounts(t, "after a third and a half left", f.s.Scrape(h), want)
	self := Addr4(1)
	r := f.mustAnnounce(h, self, swarm.Leecher, numWant(200))
	want.Seeders--
	want.Leechers++
	wantCounts(t, "status change", r.Counts, want)
	got := Peers(r)
	seen := map[netip.AddrPort]bool{}
	for _, p := range got {
		if seen[p] || p == self {
			t.Fatalf("peer %v sent twice or to itself", p)
		}
		seen[p] = true
	}
	if len(got) != 200 {
		t.Errorf("got %d peers, want 200", len(got))
	}
	for i := 0; i < n4; i++ { // the ones that left are gone, the others there
		if i%3 == 0 && seen[Addr4(i)] {
			t.Errorf("peer %d left but was handed out", i)
		}
	}
	for i := 0; i < n4; i += 3 { // rejoining adds them back, once
		f.mustAnnounce(h, Addr4(i), swarm.Leecher)
		f.mustAnnounce(h, Addr4(i), swarm.Leecher)
	}
	if st := f.s.Stats(); st.Peers != n4+n6/2 {
		t.Errorf("stats %+v, want %d peers", st, n4+n6/2)
	}
}
