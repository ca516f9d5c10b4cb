package udptracker

import (
	"encoding/binary"
	"net"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// TestLongScrapeAnswered scrapes the real listener with more hashes than a reply
// carries: the first 74 are answered, however long the request. A request longer
// than the receive buffer (more than 101 hashes) arrives truncated, and must still
// be answered from its start; anything else that long is not a request.
func TestLongScrapeAnswered(t *testing.T) {
	s, addr := serve(t, "127.0.0.1:0", 1)
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2*packetLen)
	ask := func(pkt []byte) []byte {
		t.Helper()
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	r := ask(connectPacket(1))
	if len(r) != 16 {
		t.Fatalf("connect reply %x", r)
	}
	id := binary.BigEndian.Uint64(r[8:])

	for _, n := range []int{1, 74, 75, 101, 102, 200, 3000} {
		hashes := make([]tracker.InfoHash, n)
		for i := range hashes {
			hashes[i] = tracker.InfoHash{byte(i), byte(i >> 8), 'h'}
		}
		want := 8 + 12*min(n, maxScrape)
		if r := ask(scrapePacket(id, uint32(n), hashes...)); len(r) != want || binary.BigEndian.Uint32(r) != actionScrape || binary.BigEndian.Uint32(r[4:]) != uint32(n) {
			t.Errorf("scrape of %d hashes (%d bytes): reply of %d bytes, want %d", n, 16+20*n, len(r), want)
		}
	}
	long := ann{connID: id, txID: 5, hash: hashA, left: 1, port: 6881, numWant: -1, options: make([]byte, packetLen)}.packet()
	for name, pkt := range map[string][]byte{
		"announce":       long,
		"connect":        append(connectPacket(6), make([]byte, packetLen)...),
		"unknown action": append(append(binary.BigEndian.AppendUint64(nil, id), 0, 0, 0, 9, 0, 0, 0, 7), make([]byte, packetLen)...),
	} {
		if r := ask(pkt); r != nil {
			t.Errorf("%s of %d bytes answered with %q, want no reply", name, len(pkt), r)
		}
	}
	if st := s.Stats(); st.Dropped < 3 {
		t.Errorf("stats %+v, want the 3 long packets dropped", st)
	}
}
