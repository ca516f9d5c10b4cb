package tracker_test

import (
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// TestReconfigure: each setting changed live applies to the next request.
func TestReconfigure(t *testing.T) {
	for _, tc := range []struct {
		name  string
		mod   func(*tracker.Config)
		check func(t *testing.T, trk *tracker.Tracker)
	}{
		{"allowed networks narrowed", func(c *tracker.Config) { c.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("fd00::/8")} },
			func(t *testing.T, trk *tracker.Tracker) {
				var resp tracker.AnnounceResponse
				if err := trk.Announce(src1, req(hashA, 6881, 1, 0), tracker.AnyFamily, &resp); !errors.Is(err, tracker.ErrNotAllowed) {
					t.Errorf("announce from a network no longer allowed: err %v", err)
				}
				announce(t, trk, src6, req(hashA, 6882, 1, 0))
			}},
		{"numwant default", func(c *tracker.Config) { c.NumWantDefault = 1 },
			func(t *testing.T, trk *tracker.Tracker) {
				if resp := announce(t, trk, src6, req(hashA, 6882, 1, 0)); len(resp.Peers4) != 6 {
					t.Errorf("%d bytes of peers, want one IPv4 peer", len(resp.Peers4))
				}
			}},
		{"numwant max", func(c *tracker.Config) { c.NumWantMax = 1 },
			func(t *testing.T, trk *tracker.Tracker) {
				r := req(hashA, 6882, 1, 0)
				r.NumWant = 50
				if resp := announce(t, trk, src6, r); len(resp.Peers4) != 6 {
					t.Errorf("%d bytes of peers, want one IPv4 peer", len(resp.Peers4))
				}
			}},
		{"intervals", func(c *tracker.Config) { c.Interval, c.MinInterval = 100*time.Second, 7*time.Second },
			func(t *testing.T, trk *tracker.Tracker) {
				resp := announce(t, trk, src1, req(hashA, 6883, 1, 0))
				if resp.Interval < 90*time.Second || resp.Interval > 110*time.Second || resp.MinInterval != 7*time.Second {
					t.Errorf("interval %v, min interval %v", resp.Interval, resp.MinInterval)
				}
			}},
		{"full scrape on", func(c *tracker.Config) { c.FullScrape = true },
			func(t *testing.T, trk *tracker.Tracker) {
				n := 0
				if err := trk.FullScrape(src1, nil, func(tracker.ScrapeEntry) error { n++; return nil }); err != nil || n != 1 {
					t.Errorf("full scrape: %d entries, err %v", n, err)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trk := newTracker(testConfig(), swarm.Opts{})
			announce(t, trk, src1, req(hashA, 6881, 0, tracker.EventStarted))
			announce(t, trk, src2, req(hashA, 6881, 0, tracker.EventStarted))
			cfg := testConfig()
			tc.mod(&cfg)
			trk.Reconfigure(cfg)
			tc.check(t, trk)
		})
	}
}

// TestReconfigureUnderLoad: announces never fail and never see a half-applied
// configuration while Reconfigure swaps it again and again; no peer is lost.
func TestReconfigureUnderLoad(t *testing.T) {
	trk := newTracker(testConfig(), swarm.Opts{})
	const workers, rounds = 4, 300
	var failed atomic.Value
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			var resp tracker.AnnounceResponse
			for range rounds {
				if err := trk.Announce(src1, req(hashA, uint16(7000+w), 1, 0), tracker.AnyFamily, &resp); err != nil {
					failed.Store(err)
					return
				}
				// The two configurations below go together: a reply mixing them
				// read half of each.
				if (resp.MinInterval == time.Minute) != (resp.Interval < 20*time.Minute) {
					failed.Store(errors.New("interval of one configuration, min interval of another"))
					return
				}
			}
		})
	}
	stop := make(chan struct{})
	var swapping sync.WaitGroup
	swapping.Go(func() {
		short, long := testConfig(), testConfig()
		short.Interval, short.MinInterval = 10*time.Minute, time.Minute
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if i%2 == 0 {
				trk.Reconfigure(short)
			} else {
				trk.Reconfigure(long)
			}
		}
	})
	wg.Wait()
	close(stop)
	swapping.Wait()
	if err := failed.Load(); err != nil {
		t.Fatal(err)
	}
	if st := trk.Stats(); st.Swarm.Peers != workers {
		t.Errorf("%d peers stored, want %d", st.Swarm.Peers, workers)
	}
}

// TestReconfigureOwnsItsSnapshot: a caller's slice changed after Reconfigure does
// not change the configuration in force.
func TestReconfigureOwnsItsSnapshot(t *testing.T) {
	cfg := testConfig()
	trk := newTracker(cfg, swarm.Opts{})
	cfg.AllowedNetworks[0] = netip.MustParsePrefix("192.0.2.0/24")
	if !trk.Allowed(src1) {
		t.Error("changing the caller's slice changed the allowed networks")
	}
}
