package httptracker

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// newReconfigurable serves on 127.0.0.1 and returns the server, its address and
// its store.
func newReconfigurable(t *testing.T, hc Config) (*Server, string, swarm.Store) {
	t.Helper()
	_, tc := testConfigs()
	store := swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{})
	s := New(hc, tracker.New(tc, store, nil), slog.New(slog.DiscardHandler))
	return s, serve(t, s), store
}

// peerAnnounceURL is an announce of peer n on port 6881+n, n < 1000.
func peerAnnounceURL(addr string, n int) string {
	return fmt.Sprintf("http://%s/announce?info_hash=abcdefghij0123456789&peer_id=-TT0001-%012d&port=%d&left=1", addr, n, 6881+n)
}

// TestReconfigureUnderLoad: keep-alive clients announce while the server's
// timeouts change back and forth, each change a new generation of http.Server.
// No request fails, and every peer is stored.
func TestReconfigureUnderLoad(t *testing.T) {
	hc, _ := testConfigs()
	s, addr, store := newReconfigurable(t, hc)
	const clients, rounds, changes = 8, 40, 20

	var failed atomic.Value
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			tr := &http.Transport{MaxIdleConnsPerHost: 1}
			defer tr.CloseIdleConnections()
			client := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for range rounds {
				resp, err := client.Get(peerAnnounceURL(addr, c))
				if err != nil {
					failed.Store(err)
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil || resp.StatusCode != http.StatusOK || len(body) == 0 || body[0] != 'd' {
					failed.Store(fmt.Errorf("status %d, body %q, err %v", resp.StatusCode, body, err))
					return
				}
			}
		})
	}
	for i := range changes {
		next := hc
		next.IdleTimeout = hc.IdleTimeout + time.Duration(i%2)*time.Second
		next.WriteTimeout = hc.WriteTimeout + time.Duration(i%3)*time.Second
		if err := s.Reconfigure(next); err != nil {
			t.Fatalf("Reconfigure: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("a request failed during reconfiguration: %v", err)
	}
	if st := store.Stats(); st.Peers != clients {
		t.Errorf("store holds %d peers, want %d", st.Peers, clients)
	}
}

// TestReconfigureCaps: a cap changed live holds for the next connection and closes
// none already open; the open count carries over.
func TestReconfigureCaps(t *testing.T) {
	for _, tc := range []struct {
		name                  string
		maxConns, perSource   int // before
		nextMax, nextPerSrc   int // after
		hold                  int // idle connections the hog holds across the change
		wantOther, wantHogNew int // status of a new announce from the other host, and from the hog
	}{
		{"front cap lowered", 8, 0, 3, 0, 3, http.StatusServiceUnavailable, http.StatusServiceUnavailable},
		{"front cap raised", 3, 0, 8, 0, 3, http.StatusOK, http.StatusOK},
		{"source cap on", 8, 0, 8, 3, 3, http.StatusOK, http.StatusServiceUnavailable},
		{"source cap off", 8, 3, 8, 0, 3, http.StatusOK, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, addr, _ := serveCapped(t, tc.maxConns, tc.perSource)
			held := holdIdle(t, addr, tc.hold)
			waitOpen(t, s, int64(tc.hold))
			hc, _ := testConfigs()
			hc.MaxConnections, hc.MaxConnectionsPerSource = tc.nextMax, tc.nextPerSrc
			if err := s.Reconfigure(hc); err != nil {
				t.Fatal(err)
			}
			if got := askFrom(t, other, addr); got != tc.wantOther {
				t.Errorf("other host: status %d, want %d", got, tc.wantOther)
			}
			if got := askFrom(t, hog, addr); got != tc.wantHogNew {
				t.Errorf("hog's new connection: status %d, want %d", got, tc.wantHogNew)
			}
			// The connections held across the change still work.
			for i, c := range held {
				if status, err := ask(c); err != nil || status != http.StatusOK {
					t.Errorf("held connection %d: status %d, err %v", i, status, err)
				}
			}
		})
	}
}

// TestReconfigureTimeoutAppliesToNewConnections: a read-header timeout shortened
// live cuts a new connection that sends nothing, where the old one would have
// waited a minute; a request in flight on an old connection finishes.
func TestReconfigureTimeoutAppliesToNewConnections(t *testing.T) {
	hc, _ := testConfigs()
	hc.ReadHeaderTimeout = time.Minute
	s, addr, _ := newReconfigurable(t, hc)
	old := dialFrom(t, "127.0.0.1", addr)
	// Half a request on the old connection, the rest after the change.
	if _, err := io.WriteString(old, announceRequest[:20]); err != nil {
		t.Fatal(err)
	}
	waitOpen(t, s, 1)
	// Served by the first generation, as the point is: handed over only after the
	// change, it would be the new one's, with the 200 ms timeout.
	for deadline := time.Now().Add(5 * time.Second); s.gen.Load().taken.Load() < 1; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first generation never took the connection")
		}
	}

	hc.ReadHeaderTimeout = 200 * time.Millisecond
	if err := s.Reconfigure(hc); err != nil {
		t.Fatal(err)
	}
	fresh := dialFrom(t, "127.0.0.1", addr)
	_ = fresh.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if n, err := fresh.Read(make([]byte, 1)); err == nil || isTimeout(err) {
		t.Errorf("a new connection sending nothing: read %d bytes, err %v after %v; want it closed by the 200 ms timeout",
			n, err, time.Since(start).Round(time.Millisecond))
	}

	if _, err := io.WriteString(old, announceRequest[20:]); err != nil {
		t.Fatalf("old connection: %v", err)
	}
	if status, err := readStatus(old); err != nil || status != http.StatusOK {
		t.Errorf("request in flight across the change: status %d, err %v", status, err)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// TestReconfigureRefusesBadConfig: a negative setting is an error and changes
// nothing.
func TestReconfigureRefusesBadConfig(t *testing.T) {
	hc, _ := testConfigs()
	hc.MaxConnections = 1
	s, addr, _ := newReconfigurable(t, hc)
	bad := hc
	bad.MaxConnections, bad.IdleTimeout = 100, -time.Second
	if err := s.Reconfigure(bad); err == nil {
		t.Fatal("Reconfigure took a negative idle timeout")
	}
	if got := s.config().MaxConnections; got != 1 {
		t.Errorf("max connections %d after a refused Reconfigure, want 1", got)
	}
	held := dialFrom(t, "127.0.0.1", addr)
	if status, err := ask(held); err != nil || status != http.StatusOK {
		t.Fatalf("first connection: status %d, err %v", status, err)
	}
	if got := askFrom(t, other, addr); got != http.StatusServiceUnavailable {
		t.Errorf("second connection: status %d, want 503 under the cap of 1 still in force", got)
	}
}

// TestListenersAddedAndRemovedLive: Serve adds an address to a running server;
// closing its listener ends that Serve with nil and leaves the others serving.
func TestListenersAddedAndRemovedLive(t *testing.T) {
	hc, _ := testConfigs()
	s, first, _ := newReconfigurable(t, hc)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	second := l.Addr().String()
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	for _, a := range []string{first, second} {
		if got := askFrom(t, other, a); got != http.StatusOK {
			t.Errorf("announce to %s: status %d", a, got)
		}
	}
	l.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve of a closed listener: %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after its listener closed")
	}
	if c, err := net.DialTimeout("tcp", second, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts after its listener closed", second)
	}
	if got := askFrom(t, other, first); got != http.StatusOK {
		t.Errorf("announce to the remaining %s: status %d", first, got)
	}
}

// readStatus reads one reply on c, allowing answerWithin.
func readStatus(c net.Conn) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(answerWithin))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}
