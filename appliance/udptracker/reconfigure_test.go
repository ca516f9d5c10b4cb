package udptracker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// TestReconfigure: numwant's default and the scrape cap change from the next
// packet on.
func TestReconfigure(t *testing.T) {
	f := newFixture(t, nil)
	for i := range 5 {
		f.announce(netip.AddrPortFrom(src4.Addr(), uint16(7000+i)), ann{hash: hashA, left: 1})
	}
	for _, tc := range []struct {
		cfg       Config
		wantPeers int
		scrape    int // hashes in a scrape
		wantHash  int // entries in its reply
	}{
		{Config{NumWantDefault: 2, ScrapeMax: 3}, 2, 5, 3},
		{Config{NumWantDefault: 4, ScrapeMax: 74}, 4, 5, 5},
		{Config{NumWantDefault: 50, ScrapeMax: 500}, 5, 80, 74}, // never past one datagram
	} {
		t.Run(fmt.Sprint(tc.cfg), func(t *testing.T) {
			f.s.Reconfigure(tc.cfg)
			if r := f.announce(netip.AddrPortFrom(src4.Addr(), 7999), ann{hash: hashA, left: 1}); len(r.peers) != tc.wantPeers {
				t.Errorf("%d peers, want %d", len(r.peers), tc.wantPeers)
			}
			hashes := make([]tracker.InfoHash, tc.scrape)
			r := f.send(scrapePacket(f.connect(src4), 9, hashes...), src4)
			if got := (len(r) - 8) / 12; binary.BigEndian.Uint32(r) != actionScrape || got != tc.wantHash {
				t.Errorf("scrape of %d: %d entries (reply %d bytes), want %d", tc.scrape, got, len(r), tc.wantHash)
			}
		})
	}
}

// TestSetBuffers: a served socket's buffers change live.
func TestSetBuffers(t *testing.T) {
	l, err := Listen("127.0.0.1:0", ListenConfig{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	const want = 48 << 10
	if err := l.SetBuffers(ListenConfig{ReadBuffer: want, WriteBuffer: want}); err != nil {
		t.Fatal(err)
	}
	for i, c := range l.conns {
		for _, opt := range []int{unix.SO_RCVBUF, unix.SO_SNDBUF} {
			got := sockopt(t, c, opt)
			// Linux doubles what it is asked for, for its bookkeeping.
			if got != 2*want {
				t.Errorf("socket %d option %d: %d bytes, want %d", i, opt, got, 2*want)
			}
		}
	}
}

func sockopt(t *testing.T, c *net.UDPConn, opt int) int {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var v int
	var serr error
	if err := rc.Control(func(fd uintptr) { v, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, opt) }); err != nil {
		t.Fatal(err)
	}
	if serr != nil {
		t.Fatal(serr)
	}
	return v
}

// TestRebindUnderLoad: clients announce over real sockets while the address is
// rebound with another number of workers, new sockets bound beside the old ones
// before those close. Every announce is answered (a client asks again after a
// short wait, as BEP 15 clients do), every peer is stored, and a second tracker
// still cannot take the port.
func TestRebindUnderLoad(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("rebinding takes SO_REUSEPORT, used on Linux only")
	}
	cfg := defaultTracker()
	store := swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{})
	s, err := New(frontConfig(cfg), tracker.New(cfg, store, nil), slog.New(slog.DiscardHandler), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1:0", ListenConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	var serving sync.WaitGroup
	serve := func(l *Listener) {
		serving.Go(func() {
			if err := s.Serve(l); err != nil {
				t.Errorf("Serve: %v", err)
			}
		})
	}
	serve(l)

	const clients = 6
	var failed atomic.Value
	var retries, exchanges atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for c := range clients {
		wg.Go(func() {
			if err := announceLoop(addr, c, stop, &exchanges, &retries); err != nil {
				failed.Store(err)
			}
		})
	}
	for _, workers := range []int{3, 2, 1} {
		time.Sleep(20 * time.Millisecond)
		next, err := l.Rebind(ListenConfig{Workers: workers})
		if err != nil {
			t.Fatalf("rebind with %d workers beside %d: %v", workers, l.Workers(), err)
		}
		if next.Addr().String() != addr || next.Workers() != workers {
			t.Fatalf("rebound %s with %d workers, want %s with %d", next.Addr(), next.Workers(), addr, workers)
		}
		serve(next)
		l.Close()
		l = next
	}
	time.Sleep(20 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("during rebinding: %v", err)
	}
	t.Logf("%d of %d exchanges asked again", retries.Load(), exchanges.Load())
	if st := store.Stats(); st.Peers != clients {
		t.Errorf("store holds %d peers, want %d", st.Peers, clients)
	}
	// The port is still this process's alone.
	if other, err := Listen(addr, ListenConfig{Workers: 2}); err == nil {
		other.Close()
		t.Errorf("a second Listen took %s beside the rebound sockets", addr)
	}
	l.Close()
	serving.Wait()
}

// announceLoop announces peer n to addr until stop (at most 5000 times),
// connecting for each, and asks again (up to 20 times, 100 ms apart) when no
// answer comes.
func announceLoop(addr string, n int, stop <-chan struct{}, exchanges, retries *atomic.Int64) error {
	c, err := net.Dial("udp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	buf := make([]byte, packetLen)
	// exchange sends pkt until its reply comes; a late reply to an earlier try
	// or exchange is read past.
	exchange := func(pkt []byte, action uint32) ([]byte, error) {
		txID := binary.BigEndian.Uint32(pkt[12:])
		exchanges.Add(1)
		for try := range 20 {
			if try > 0 {
				retries.Add(1)
			}
			if _, err := c.Write(pkt); err != nil {
				return nil, err
			}
			_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			for {
				k, err := c.Read(buf)
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break
				}
				if err != nil {
					return nil, err
				}
				if k >= 8 && binary.BigEndian.Uint32(buf[4:]) == txID {
					if binary.BigEndian.Uint32(buf) != action {
						return nil, fmt.Errorf("reply %q to action %d", buf[:k], action)
					}
					return buf[:k], nil
				}
			}
		}
		return nil, fmt.Errorf("peer %d: no answer to action %d after 20 tries", n, action)
	}
	for r := range 5000 {
		select {
		case <-stop:
			return nil
		default:
		}
		txID := uint32(n<<16 | r<<1)
		p := binary.BigEndian.AppendUint64(nil, protocolID)
		p = binary.BigEndian.AppendUint32(p, actionConnect)
		p = binary.BigEndian.AppendUint32(p, txID)
		reply, err := exchange(p, actionConnect)
		if err != nil {
			return err
		}
		a := ann{connID: binary.BigEndian.Uint64(reply[8:]), txID: txID | 1, hash: hashA, left: 1, numWant: -1, port: uint16(7000 + n)}
		if _, err := exchange(a.packet(), actionAnnounce); err != nil {
			return err
		}
	}
	return nil
}
