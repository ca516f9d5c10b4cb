package udptracker

import (
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/metrics/requests"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// Every connect, announce and scrape is counted once, by how it was answered,
// and timed; a packet that is no request (garbage, an error packet, a connect
// without the magic number) is not.
func TestRequestsCounted(t *testing.T) {
	f := newFixture(t, nil)
	id := f.connect(src4)
	errorPacket := connectPacket(9)
	errorPacket[11] = actionError
	badMagic := connectPacket(9)
	badMagic[0] ^= 0xff
	for _, tc := range []struct {
		name    string
		pkt     []byte
		src     netip.AddrPort // src4 if not set
		action  requests.Action
		result  requests.Result
		counted bool
	}{
		{name: "connect", pkt: connectPacket(1), action: requests.Connect, result: requests.OK, counted: true},
		{name: "connect from outside", pkt: connectPacket(1), src: netip.MustParseAddrPort("192.0.2.1:4000"), action: requests.Connect, result: requests.Refused, counted: true},
		{name: "announce", pkt: ann{connID: id, hash: hashA, port: 6881, numWant: -1}.packet(), action: requests.Announce, result: requests.OK, counted: true},
		{name: "announce, port 0", pkt: ann{connID: id, hash: hashA, numWant: -1}.packet(), action: requests.Announce, result: requests.Refused, counted: true},
		{name: "announce, forged id", pkt: ann{connID: id ^ 1, hash: hashA, port: 6881}.packet(), action: requests.Announce, result: requests.Refused, counted: true},
		{name: "scrape", pkt: scrapePacket(id, 3, hashA), action: requests.Scrape, result: requests.OK, counted: true},
		{name: "error packet", pkt: errorPacket},
		{name: "connect without the magic number", pkt: badMagic},
		{name: "garbage", pkt: []byte("GET / HTTP/1.1\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.s.Requests()
			src := src4
			if tc.src.IsValid() {
				src = tc.src
			}
			f.send(tc.pkt, src)
			after := f.s.Requests()
			var want [requests.NumActions][requests.NumResults]uint64
			if tc.counted {
				want[tc.action][tc.result] = 1
			}
			var got [requests.NumActions][requests.NumResults]uint64
			for a := range got {
				for r := range got[a] {
					got[a][r] = after.Requests[a][r] - before.Requests[a][r]
				}
			}
			if got != want {
				t.Errorf("counted %v, want %v", got, want)
			}
			if n := after.Count() - before.Count(); tc.counted != (n == 1) || n > 1 {
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
	f := newFixture(t, nil)
	s, err := New(frontConfig(defaultTracker()), failingTracker{f.trk}, slog.New(slog.DiscardHandler), f.clock)
	if err != nil {
		t.Fatal(err)
	}
	h := newHandler(s)
	r := h.handle(connectPacket(1), src4, nil)
	id := binary.BigEndian.Uint64(r[8:])
	h.handle(ann{connID: id, hash: hashA, port: 6881, numWant: -1}.packet(), src4, nil)
	if got := s.Requests().Requests[requests.Announce]; got != [requests.NumResults]uint64{requests.Error: 1} {
		t.Errorf("announce counts %v, want one error", got)
	}
}
