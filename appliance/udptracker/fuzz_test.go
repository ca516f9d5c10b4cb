package udptracker

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// FuzzHandle feeds arbitrary datagrams to the packet handler, with the connection
// id replaced by a valid one when asked so that the fuzzer reaches the announce and
// scrape parsers (BEP 41 options included). It must never panic, never write more
// than one datagram, never answer a packet it could not authenticate with more
// bytes than the packet carried, and never let such a packet touch the tracker.
// The clock moves a second a packet, so that error replies are not all held back
// by the rate limit and the 16 time bits of connection ids wrap (every 2^16 s).
func FuzzHandle(f *testing.F) {
	urlData := []byte{optNop, optURLData, 14, '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e', '?', 'i', 'p', '=', '1', optURLData, 1, '0', 0x7f, 0, optEnd}
	seeds := [][]byte{
		nil,
		connectPacket(1),
		ann{hash: hashA, left: 1, port: 6881, numWant: -1}.packet(),
		ann{hash: hashA, left: 0, event: 4, port: 1, numWant: 1000, options: urlData}.packet(),
		ann{hash: hashB, port: 2, options: []byte{optURLData, 200, 'x'}}.packet(),
		ann{hash: hashB, port: 3, options: []byte{optURLData, 5, '?', 'i', 'p', '=', '%'}}.packet(),
		scrapePacket(0, 1, hashA, hashB),
		scrapePacket(0, 1),
		append(scrapePacket(0, 1, hashA), 9, 9),
		ann{hash: hashA, port: 4, options: append([]byte{optURLData, byte(len(keyURLData))}, keyURLData...)}.packet(),
	}
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	fx := newFixture(f, func(c *tracker.Config) { c.AllowIPParam = true })
	f.Fuzz(func(t *testing.T, pkt []byte, authenticate bool) {
		fx.clock.Advance(time.Second)
		if authenticate && len(pkt) >= 8 {
			binary.BigEndian.PutUint64(pkt, fx.s.ids.issue(fx.clock.Now(), src4.Addr()))
		}
		hd, herr := parseHeader(pkt)
		authentic := herr == nil && (hd.action == actionConnect || fx.s.ids.valid(hd.connID, fx.clock.Now(), src4.Addr()))
		before := fx.trk.Stats()
		r := fx.send(pkt, src4)
		if after := fx.trk.Stats(); !authentic && (after.Announces != before.Announces || after.Scrapes != before.Scrapes || after.Swarm != before.Swarm) {
			t.Fatalf("an unauthenticated packet reached the tracker: %+v, then %+v", before, after)
		}
		if len(r) > maxReplyLen {
			t.Fatalf("%d-byte reply does not fit one datagram", len(r))
		}
		if !authentic && len(r) > len(pkt) {
			t.Fatalf("unauthenticated %d-byte packet answered with %d bytes", len(pkt), len(r))
		}
		if len(r) >= 8 && binary.BigEndian.Uint32(r[4:]) != hd.txID {
			t.Fatalf("reply carries transaction id %d, request had %d", binary.BigEndian.Uint32(r[4:]), hd.txID)
		}
		// A successful announce parse is a valid request.
		var req tracker.AnnounceRequest
		if len(pkt) >= announceLen && parseAnnounce(pkt, &req, make([]byte, 0, packetLen)) == nil {
			if req.Port == 0 || req.Left < 0 || req.Uploaded < 0 || req.Downloaded < 0 || req.NumWant < -1 {
				t.Fatalf("parsed an invalid announce: %+v", req)
			}
		}
	})
}
