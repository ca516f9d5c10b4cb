package udptracker

import (
	"context"
	"encoding/binary"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	anacrolix "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// serve runs a real UDP tracker on addr until the test ends.
func serve(t testing.TB, addr string, workers int) (*Server, string) {
	t.Helper()
	cfg := defaultTracker()
	trk := tracker.New(cfg, swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{}), nil)
	s, err := New(frontConfig(cfg), trk, slog.New(slog.DiscardHandler), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen(addr, ListenConfig{Workers: workers})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return within 5 s of its sockets closing")
		}
	})
	return s, l.Addr().String()
}

// TestAnacrolixClient announces and scrapes with the anacrolix UDP tracker client
// over IPv4 and IPv6 loopback, several workers sharing each port.
func TestAnacrolixClient(t *testing.T) {
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(network, func(t *testing.T) {
			_, addr := serve(t, network, 2)
			url := "udp://" + addr + "/announce"
			ih := infohash.T{0xca, 0xfe}
			seeder := anacrolix.AnnounceRequest{InfoHash: ih, PeerId: [20]byte{'s'}, Port: 51001, Left: 0, Event: anacrolix.Started, NumWant: -1}
			leecher := anacrolix.AnnounceRequest{InfoHash: ih, PeerId: [20]byte{'l'}, Port: 51002, Left: 100, Event: anacrolix.Started, NumWant: -1}
			if _, err := udpAnnounce(url, seeder); err != nil {
				t.Fatalf("seeder: %v", err)
			}
			res, err := udpAnnounce(url, leecher)
			if err != nil {
				t.Fatalf("leecher: %v", err)
			}
			host, _, _ := net.SplitHostPort(addr)
			if len(res.Peers) != 1 || !res.Peers[0].IP.Equal(net.ParseIP(host)) || res.Peers[0].Port != 51001 || res.Seeders != 1 || res.Leechers != 1 {
				t.Errorf("leecher got %+v, want the seeder at port 51001", res)
			}
			if res.Interval < 1620 || res.Interval > 1980 {
				t.Errorf("interval %d", res.Interval)
			}
			leecher.Event, leecher.Left = anacrolix.Completed, 0
			if _, err := udpAnnounce(url, leecher); err != nil {
				t.Fatal(err)
			}
			cl, err := anacrolix.NewClient(url, anacrolix.NewClientOpts{Slogger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			sc, err := cl.Scrape(ctx, []infohash.T{ih, {0xde, 0xad}})
			if err != nil || len(sc) != 2 {
				t.Fatalf("scrape: %v %v", sc, err)
			}
			if sc[0].Seeders != 2 || sc[0].Leechers != 0 || sc[0].Completed != 1 || sc[1].Seeders+sc[1].Leechers+sc[1].Completed != 0 {
				t.Errorf("scrape %+v, want 2 seeders, 1 completed, and zeros for the unknown hash", sc)
			}
		})
	}
}

func udpAnnounce(url string, req anacrolix.AnnounceRequest) (anacrolix.AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return anacrolix.Announce{TrackerUrl: url, Request: req, Context: ctx, Slogger: slog.New(slog.DiscardHandler)}.Do()
}

// TestSocketRawPackets sends raw datagrams to the real listener: a connect is
// answered, garbage is not, and a forged connection id gets a short error.
func TestSocketRawPackets(t *testing.T) {
	s, addr := serve(t, "127.0.0.1:0", 1)
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	roundTrip := func(pkt []byte) []byte {
		t.Helper()
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		buf := make([]byte, 2048)
		n, err := c.Read(buf)
		if err != nil {
			return nil
		}
		return buf[:n]
	}
	if r := roundTrip([]byte("hello")); r != nil {
		t.Errorf("garbage answered with %q", r)
	}
	r := roundTrip(connectPacket(42))
	if len(r) != 16 || binary.BigEndian.Uint32(r[4:]) != 42 {
		t.Fatalf("connect reply %x", r)
	}
	id := binary.BigEndian.Uint64(r[8:])
	forged := scrapePacket(id^0xff, 43, hashA)
	if r := roundTrip(forged); len(r) == 0 || len(r) > len(forged) || binary.BigEndian.Uint32(r) != actionError {
		t.Errorf("forged id: reply %q", r)
	}
	if r := roundTrip(scrapePacket(id, 44, hashA)); len(r) != 20 || binary.BigEndian.Uint32(r) != actionScrape {
		t.Errorf("scrape reply %x", r)
	}
	// A datagram larger than any request is dropped whole, not read in part.
	if r := roundTrip(make([]byte, packetLen+100)); r != nil {
		t.Errorf("oversize datagram answered with %q", r)
	}
	if st := s.Stats(); st.Packets < 4 || st.Dropped < 2 || st.BadConnID != 1 {
		t.Errorf("stats %+v", st)
	}
}

// BenchmarkLoopback measures announces per second through real sockets: 100
// torrents of 100 peers each (announced from 100 loopback addresses), then a client
// keeps a window of announces in flight, 50 peers wanted, over IPv4 loopback. With
// SWARMLIGHT_BENCH_TARGET=host:port it measures another tracker there instead, to
// compare with opentracker on the same machine.
func BenchmarkLoopback(b *testing.B) {
	target := os.Getenv("SWARMLIGHT_BENCH_TARGET")
	if target == "" {
		_, target = serve(b, "127.0.0.1:0", 0)
	}
	hashes := make([]tracker.InfoHash, 100)
	for i := range hashes {
		hashes[i] = tracker.InfoHash{byte(i), 'h'}
	}
	for p := range 100 {
		c, id := benchConnect(b, "127.0.1."+strconv.Itoa(p+1), target)
		for i, h := range hashes {
			benchAsk(b, c, ann{connID: id, txID: uint32(i), hash: h, left: 1, port: 6881, numWant: 0}.packet())
		}
		c.Close()
	}
	c, id := benchConnect(b, "127.0.0.1", target)
	defer c.Close()
	pkts := make([][]byte, len(hashes))
	for i, h := range hashes {
		pkts[i] = ann{connID: id, txID: uint32(i), hash: h, left: 1, port: 6881, numWant: 50}.packet()
	}
	if r := benchAsk(b, c, pkts[0]); len(r) != 20+50*6 {
		b.Fatalf("announce reply of %d bytes, want 50 peers", len(r))
	}
	buf := make([]byte, 2048)
	const window = 16
	b.ResetTimer()
	sent, recvd := 0, 0
	for recvd < b.N {
		for sent < b.N && sent-recvd < window {
			if _, err := c.Write(pkts[sent%len(pkts)]); err != nil {
				b.Fatal(err)
			}
			sent++
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Read(buf); err != nil {
			// A datagram lost on loopback: resend rather than stall.
			sent = recvd
			continue
		}
		recvd++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "announces/s")
}

func benchConnect(b *testing.B, from, target string) (*net.UDPConn, uint64) {
	b.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(target)))
	if err != nil {
		b.Fatal(err)
	}
	r := benchAsk(b, c, connectPacket(1))
	return c, binary.BigEndian.Uint64(r[8:])
}

func benchAsk(b *testing.B, c *net.UDPConn, pkt []byte) []byte {
	b.Helper()
	buf := make([]byte, 2048)
	for range 3 {
		if _, err := c.Write(pkt); err != nil {
			b.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(time.Second))
		if n, err := c.Read(buf); err == nil {
			return buf[:n]
		}
	}
	b.Fatal("no reply in 3 tries")
	return nil
}
