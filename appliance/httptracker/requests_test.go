package httptracker

import (
	"errors"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/metrics/requests"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// Every announce and scrape is counted once, by how it was answered, and timed;
// what is no tracker request (another path, another method) is not.
func TestRequestsCounted(t *testing.T) {
	for _, tc := range []struct {
		method, target string
		action         requests.Action
		result         requests.Result
		counted        bool
	}{
		{"GET", "/announce?" + testQuery, requests.Announce, requests.OK, true},
		{"HEAD", "/announce?" + testQuery, requests.Announce, requests.OK, true},
		{"GET", "/announce?info_hash=short", requests.Announce, requests.Refused, true},
		{"GET", "/scrape?info_hash=abcdefghij0123456789", requests.Scrape, requests.OK, true},
		{"GET", "/scrape", requests.Scrape, requests.Refused, true}, // full scrape off
		{"GET", "/scrape?info_hash=%ZZ", requests.Scrape, requests.Refused, true},
		{"POST", "/announce?" + testQuery, 0, 0, false},
		{"GET", "/", 0, 0, false},
		{"GET", "/stats.json", 0, 0, false},
	} {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			s := newServer(testConfigs())
			r := httptest.NewRequest(tc.method, tc.target, nil)
			r.RemoteAddr = "127.0.0.1:40000"
			s.ServeHTTP(httptest.NewRecorder(), r)
			got := s.Requests()
			var want requests.Snapshot
			if tc.counted {
				want.Requests[tc.action][tc.result] = 1
			}
			if got.Requests != want.Requests {
				t.Errorf("counts %v, want %v", got.Requests, want.Requests)
			}
			if n := got.Count(); tc.counted != (n == 1) || n > 1 {
				t.Errorf("%d timed, want counted=%v", n, tc.counted)
			}
		})
	}
}

// failingTracker answers every announce with an error that is no refusal.
type failingTracker struct{ *tracker.Tracker }

func (failingTracker) Announce(netip.Addr, *tracker.AnnounceRequest, tracker.Family, *tracker.AnnounceResponse) error {
	return errors.New("store broke")
}

// An error the tracker did not mean to give is counted as one, apart from refusals.
func TestRequestsCountErrors(t *testing.T) {
	hc, tc := testConfigs()
	trk := tracker.New(tc, swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{}), nil)
	s := New(hc, failingTracker{trk}, slog.New(slog.DiscardHandler))
	r := httptest.NewRequest("GET", "/announce?"+testQuery, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if got := s.Requests().Requests[requests.Announce]; got != [requests.NumResults]uint64{requests.Error: 1} {
		t.Errorf("announce counts %v, want one error (reply %q)", got, w.Body.String())
	}
}
