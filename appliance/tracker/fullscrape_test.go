package tracker_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// testBatch is small so that a few hundred torrents make many passes.
const testBatch = 7

// withBatch sets tracker.FullScrapeBatch for one test.
func withBatch(t *testing.T, n int) {
	t.Helper()
	old := tracker.FullScrapeBatch
	tracker.FullScrapeBatch = n
	t.Cleanup(func() { tracker.FullScrapeBatch = old })
}

func fullScrapeConfig() tracker.Config {
	cfg := testConfig()
	cfg.FullScrape = true
	return cfg
}

// fill announces n torrents with random hashes and varied counts into store, and
// returns their hashes.
func fill(t *testing.T, store swarm.Store, n int, rng *rand.Rand) []tracker.InfoHash {
	t.Helper()
	hashes := make([]tracker.InfoHash, n)
	for i := range hashes {
		for j := range hashes[i] {
			hashes[i][j] = byte(rng.UintN(256))
		}
		for j := range 1 + i%3 {
			p := swarm.Params{
				InfoHash:  hashes[i],
				Addr:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(j), 1}), 6881),
				Status:    swarm.Status(j % 3),
				Completed: j == 1 && i%2 == 0,
				Families:  swarm.AnyFamily,
			}
			if err := store.Announce(&p, &swarm.Result{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return hashes
}

// collect runs a full scrape and returns what it emitted.
func collect(trk *tracker.Tracker) ([]tracker.ScrapeEntry, error) {
	var got []tracker.ScrapeEntry
	err := trk.FullScrape(src1, nil, func(e tracker.ScrapeEntry) error {
		got = append(got, e)
		return nil
	})
	return got, err
}

// wantSorted fails unless got holds exactly the named scrape of hashes, in strictly
// increasing hash order.
func wantSorted(t *testing.T, trk *tracker.Tracker, got []tracker.ScrapeEntry, hashes []tracker.InfoHash) {
	t.Helper()
	sorted := append([]tracker.InfoHash(nil), hashes...)
	sort.Slice(sorted, func(i, j int) bool { return bytes.Compare(sorted[i][:], sorted[j][:]) < 0 })
	if len(got) != len(sorted) {
		t.Fatalf("full scrape gave %d entries, want %d", len(got), len(sorted))
	}
	for i, h := range sorted {
		want, err := trk.Scrape(src1, nil, []tracker.InfoHash{h}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got[i] != want[0] {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], want[0])
		}
	}
}

func TestFullScrapePasses(t *testing.T) {
	withBatch(t, testBatch)
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"one short of a batch", testBatch - 1},
		{"exactly a batch", testBatch},
		{"one over a batch", testBatch + 1},
		{"exactly three batches", 3 * testBatch},
		{"many", 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := swarm.New(swarm.Opts{}, clock.NewFake(time.Unix(0, 0)))
			trk := tracker.New(fullScrapeConfig(), store, nil)
			hashes := fill(t, store, tc.n, rand.New(rand.NewPCG(uint64(tc.n), 1)))
			got, err := collect(trk)
			if err != nil {
				t.Fatal(err)
			}
			if st := trk.Stats(); st.Scrapes != 1 || st.Refused != 0 {
				t.Errorf("counted %d scrapes and %d refusals, want 1 and 0", st.Scrapes, st.Refused)
			}
			wantSorted(t, trk, got, hashes)
		})
	}
}

// Torrents announced while a full scrape runs may or may not be listed, but the
// output stays sorted and never lists a hash twice.
func TestFullScrapeWhileTheStoreChanges(t *testing.T) {
	withBatch(t, testBatch)
	store := swarm.New(swarm.Opts{}, clock.NewFake(time.Unix(0, 0)))
	trk := tracker.New(fullScrapeConfig(), store, nil)
	rng := rand.New(rand.NewPCG(2, 2))
	before := fill(t, store, 100, rng)
	var got []tracker.ScrapeEntry
	err := trk.FullScrape(src1, nil, func(e tracker.ScrapeEntry) error {
		got = append(got, e)
		fill(t, store, 1, rng) // emit runs with no lock held: the store is free to change
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(got); i++ {
		if bytes.Compare(got[i-1].InfoHash[:], got[i].InfoHash[:]) >= 0 {
			t.Fatalf("entry %d is not above the one before", i)
		}
	}
	listed := map[tracker.InfoHash]bool{}
	for _, e := range got {
		listed[e.InfoHash] = true
	}
	for _, h := range before {
		if !listed[h] {
			t.Fatal("a torrent present all along is missing")
		}
	}
}

func TestFullScrapeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		full bool
		src  netip.Addr
		want *tracker.Error
	}{
		{"disabled", false, src1, tracker.ErrFullScrape},
		{"not allowed", true, netip.MustParseAddr("192.0.2.1"), tracker.ErrNotAllowed},
		{"disabled and not allowed", false, netip.MustParseAddr("192.0.2.1"), tracker.ErrNotAllowed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.FullScrape = tc.full
			trk := newTracker(cfg, swarm.Opts{})
			announce(t, trk, src1, req(hashA, 6881, 0, 0))
			err := trk.FullScrape(tc.src, nil, func(tracker.ScrapeEntry) error {
				t.Error("a refused full scrape emitted an entry")
				return nil
			})
			if err != tc.want {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			// Scrape naming no hash refuses the same way when full scrape is off.
			if _, err := trk.Scrape(tc.src, nil, nil, nil); err != tc.want {
				t.Errorf("scrape naming no hash: err %v, want %v", err, tc.want)
			}
			if st := trk.Stats(); st.Refused != 2 || st.Scrapes != 0 {
				t.Errorf("counted %d refusals and %d scrapes, want 2 and 0", st.Refused, st.Scrapes)
			}
		})
	}
}

// Scrape never builds the list of every torrent, even with full scrape on: it
// refuses, and the fronts stream with FullScrape.
func TestScrapeNamingNoHashWithFullScrapeOn(t *testing.T) {
	trk := newTracker(fullScrapeConfig(), swarm.Opts{})
	announce(t, trk, src1, req(hashA, 6881, 0, 0))
	out, err := trk.Scrape(src1, nil, nil, nil)
	var te *tracker.Error
	if !errors.As(err, &te) || te.Reason == "" || len(out) != 0 {
		t.Errorf("got %v, %v; want no entries and a failure reason", out, err)
	}
}

func TestFullScrapeOneAtATime(t *testing.T) {
	trk := newTracker(fullScrapeConfig(), swarm.Opts{})
	announce(t, trk, src1, req(hashA, 6881, 0, 0))
	announce(t, trk, src1, req(hashB, 6881, 0, 0))
	started, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		first := true
		done <- trk.FullScrape(src1, nil, func(tracker.ScrapeEntry) error {
			if first {
				first = false
				close(started)
				<-release
			}
			return nil
		})
	}()
	<-started
	err := trk.FullScrape(src2, nil, func(tracker.ScrapeEntry) error {
		t.Error("a refused full scrape emitted an entry")
		return nil
	})
	var te *tracker.Error
	if !errors.As(err, &te) || err != tracker.ErrFullScrapeBusy || te.RetryIn != time.Minute {
		t.Errorf("second full scrape: err %#v, want ErrFullScrapeBusy with retry in 1m", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first full scrape: %v", err)
	}
	if got, err := collect(trk); err != nil || len(got) != 2 {
		t.Errorf("full scrape after the first ended: %d entries, %v", len(got), err)
	}
	if st := trk.Stats(); st.Scrapes != 2 || st.Refused != 1 {
		t.Errorf("counted %d scrapes and %d refusals, want 2 and 1", st.Scrapes, st.Refused)
	}
}

// An emit error (the client went away) stops the scrape, comes back identifiable,
// and frees the slot for the next full scrape.
func TestFullScrapeEmitError(t *testing.T) {
	withBatch(t, testBatch)
	store := swarm.New(swarm.Opts{}, clock.NewFake(time.Unix(0, 0)))
	trk := tracker.New(fullScrapeConfig(), store, nil)
	fill(t, store, 50, rand.New(rand.NewPCG(3, 3)))
	boom := errors.New("connection reset")
	calls := 0
	err := trk.FullScrape(src1, nil, func(tracker.ScrapeEntry) error {
		calls++
		if calls == 10 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) || calls != 10 {
		t.Errorf("err %v after %d entries, want the emit error after 10", err, calls)
	}
	if got, err := collect(trk); err != nil || len(got) != 50 {
		t.Errorf("full scrape after a failed one: %d entries, %v", len(got), err)
	}
}
