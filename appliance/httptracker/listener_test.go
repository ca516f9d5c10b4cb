package httptracker

import (
	"bufio"
	"context"
	"hash/maphash"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// The sources of these tests: loopback is a /8 on Linux, so a test binds 127.0.0.2
// for the host that hogs and 127.0.0.3 for everyone else.
const (
	hog   = "127.0.0.2"
	other = "127.0.0.3"
)

// answerWithin is the bound: a client behind a hog is answered within 1 s.
const answerWithin = time.Second

var announceRequest = "GET /announce?" + testQuery + " HTTP/1.1\r\nHost: t\r\n\r\n"

// serveCapped serves on 127.0.0.1 with the given caps and returns the server, its
// address and its log.
func serveCapped(t *testing.T, maxConns, perSource int) (*Server, string, *privacytest.Output) {
	t.Helper()
	hc, tc := testConfigs()
	hc.MaxConnections, hc.MaxConnectionsPerSource = maxConns, perSource
	logs := new(privacytest.Output)
	store := swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{})
	s := New(hc, tracker.New(tc, store, nil), slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	return s, serve(t, s), logs
}

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: answerWithin}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ask sends one announce on c and reads the reply, allowing answerWithin.
func ask(c net.Conn) (int, error) {
	_ = c.SetDeadline(time.Now().Add(answerWithin))
	if _, err := io.WriteString(c, announceRequest); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// askFrom is one announce from src on a new connection, which must be answered
// within answerWithin of dialling.
func askFrom(t *testing.T, src, addr string) int {
	t.Helper()
	start := time.Now()
	status, err := ask(dialFrom(t, src, addr))
	if err != nil {
		t.Fatalf("announce from %s: no answer after %v: %v", src, time.Since(start).Round(time.Millisecond), err)
	}
	return status
}

// waitOpen waits, a bounded time, until s counts n open connections: a close is
// counted when the server's side of the connection sees it.
func waitOpen(t *testing.T, s *Server, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); s.Stats().Open != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("open connections: %d, want %d", s.Stats().Open, n)
		}
	}
}

// holdIdle opens n keep-alive connections from hog, each having made one announce,
// and leaves them idle. It returns those answered 200; the rest were refused.
func holdIdle(t *testing.T, addr string, n int) (served []net.Conn) {
	t.Helper()
	for range n {
		c := dialFrom(t, hog, addr)
		switch status, err := ask(c); {
		case err != nil:
			t.Fatalf("hog's announce: %v", err)
		case status == http.StatusOK:
			served = append(served, c)
		case status != http.StatusServiceUnavailable:
			t.Fatalf("hog's announce: status %d", status)
		}
	}
	return served
}

// dribble opens n connections from hog that each send a byte of request headers
// every 100 ms, until the test ends or the server closes them.
func dribble(t *testing.T, addr string, n int) {
	t.Helper()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	headers := "GET /announce?" + testQuery + " HTTP/1.1\r\nHost: t\r\nX-Slow: " + strings.Repeat("s", 200)
	for range n {
		c := dialFrom(t, hog, addr)
		wg.Add(1)
		go func() {
			defer wg.Done()
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < len(headers); i++ {
				_ = c.SetWriteDeadline(time.Now().Add(time.Second))
				if _, err := c.Write([]byte{headers[i]}); err != nil {
					return // refused, or cut by the read-header timeout
				}
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
	}
}

// The cases of the hogging tests: the hog either fills the front's cap, and the
// other host is refused at once rather than queued, or meets its own cap first,
// and the other host is served.
var hogCases = []struct {
	name           string
	maxConns       int
	perSource      int
	hogHeld        int // connections the hog ends up holding
	otherGetsReply int // status the other host's announce gets
}{
	{"front cap", 16, 0, 16, http.StatusServiceUnavailable},
	{"source cap", 16, 8, 8, http.StatusOK},
}

// TestIdleKeepAlivesHoldNoOneElse: a host holding every slot it can with idle
// keep-alive connections, each having made one announce, leaves another host
// answered within 1 s.
func TestIdleKeepAlivesHoldNoOneElse(t *testing.T) {
	for _, tc := range hogCases {
		t.Run(tc.name, func(t *testing.T) {
			s, addr, _ := serveCapped(t, tc.maxConns, tc.perSource)
			if got := len(holdIdle(t, addr, tc.maxConns)); got != tc.hogHeld {
				t.Fatalf("hog holds %d connections, want %d", got, tc.hogHeld)
			}
			waitOpen(t, s, int64(tc.hogHeld))
			if got := askFrom(t, other, addr); got != tc.otherGetsReply {
				t.Errorf("other host's announce: status %d, want %d", got, tc.otherGetsReply)
			}
		})
	}
}

// TestDribbledHeadersHoldNoOneElse: a host holding every slot it can with
// connections that dribble their headers, a byte every 100 ms, leaves another host
// answered within 1 s.
func TestDribbledHeadersHoldNoOneElse(t *testing.T) {
	for _, tc := range hogCases {
		t.Run(tc.name, func(t *testing.T) {
			s, addr, _ := serveCapped(t, tc.maxConns, tc.perSource)
			dribble(t, addr, tc.maxConns)
			waitOpen(t, s, int64(tc.hogHeld))
			if got := askFrom(t, other, addr); got != tc.otherGetsReply {
				t.Errorf("other host's announce: status %d, want %d", got, tc.otherGetsReply)
			}
		})
	}
}

// readRefusal reads what the server sends on a connection it refuses, having sent
// nothing on it: a 503 with Retry-After and Connection: close, at once, and then
// the end of the connection.
func readRefusal(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(answerWithin))
	r := bufio.NewReader(c)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatalf("connection over the cap: %v; want a 503 at once", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !resp.Close {
		t.Errorf("connection over the cap: status %d, Retry-After %q, close %v; want 503, a Retry-After, close",
			resp.StatusCode, resp.Header.Get("Retry-After"), resp.Close)
	}
	if n, err := r.Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("connection over the cap: after the 503, read %d bytes, %v; want it closed", n, err)
	}
}

// countLines counts the log lines with message msg.
func countLines(logs, msg string) int { return strings.Count(logs, `msg="`+msg+`"`) }

// TestFrontCapRefusesAtOnce: over http.max_connections a connection is answered
// 503 and closed at once, counted, and logged once per interval with the count
// since the last line, never with an address.
func TestFrontCapRefusesAtOnce(t *testing.T) {
	s, addr, logs := serveCapped(t, 2, 0)
	if got := len(holdIdle(t, addr, 2)); got != 2 {
		t.Fatalf("hog holds %d connections, want 2", got)
	}
	waitOpen(t, s, 2)
	for range 3 {
		readRefusal(t, dialFrom(t, other, addr))
	}
	if st := s.Stats(); st != (Stats{Open: 2, CapRefused: 3}) {
		t.Errorf("stats %+v, want 2 open, 3 refused at the cap", st)
	}
	const msg = "http: connection cap reached"
	if got := countLines(logs.String(), msg); got != 1 || !strings.Contains(logs.String(), "refused=1") {
		t.Errorf("log after 3 refusals in one interval: %d lines %q, want 1 saying refused=1:\n%s", got, msg, logs)
	}

	// An interval later, the next refusal logs the two it held back, and itself.
	s.lim.capLog.mu.Lock()
	s.lim.capLog.last = s.lim.capLog.last.Add(-refusalLogEvery)
	s.lim.capLog.mu.Unlock()
	readRefusal(t, dialFrom(t, other, addr))
	if got := countLines(logs.String(), msg); got != 2 || !strings.Contains(logs.String(), "refused=3") {
		t.Errorf("log an interval later: %d lines %q, want 2, the second saying refused=3:\n%s", got, msg, logs)
	}
	if strings.Contains(logs.String(), "127.0.0.") {
		t.Errorf("log names an address:\n%s", logs)
	}
}

// TestSourceCap: the connection over http.max_connections_per_source from one
// source is refused at once while another source is served, and the source is
// served again once it closes one.
func TestSourceCap(t *testing.T) {
	s, addr, logs := serveCapped(t, 64, 4)
	held := holdIdle(t, addr, 5)
	if len(held) != 4 {
		t.Fatalf("hog holds %d connections, want 4", len(held))
	}
	readRefusal(t, dialFrom(t, hog, addr))
	if got := askFrom(t, other, addr); got != http.StatusOK {
		t.Errorf("other host's announce: status %d, want 200", got)
	}
	if st := s.Stats(); st != (Stats{Open: 5, SourceRefused: 2}) {
		t.Errorf("stats %+v, want 5 open, 2 refused at the source cap", st)
	}
	if got := countLines(logs.String(), "http: per-source connection cap reached"); got != 1 {
		t.Errorf("log: %d lines for the source cap, want 1:\n%s", got, logs)
	}

	held[0].Close()
	waitOpen(t, s, 4)
	if got := askFrom(t, hog, addr); got != http.StatusOK {
		t.Errorf("hog's announce after closing one: status %d, want 200", got)
	}
	if strings.Contains(logs.String(), "127.0.0.") {
		t.Errorf("log names an address:\n%s", logs)
	}
}

// TestShutdownReleasesSlots: a graceful shutdown closes idle connections and gives
// their slots back.
func TestShutdownReleasesSlots(t *testing.T) {
	s, addr, _ := serveCapped(t, 8, 4)
	holdIdle(t, addr, 3)
	waitOpen(t, s, 3)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	if st := s.Stats(); st.Open != 0 {
		t.Errorf("after shutdown %d connections counted open, want 0", st.Open)
	}
}

// TestSourceKeys: a source is an IPv4 address or an IPv6 /64, however the address
// reaches the listener.
func TestSourceKeys(t *testing.T) {
	sc := &sourceCounts{seed: maphash.MakeSeed()}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"10.0.0.1", "10.0.0.1", true},
		{"10.0.0.1", "10.0.0.2", false},
		{"::ffff:10.0.0.1", "10.0.0.1", true},
		{"2001:db8::1", "2001:db8::ffff:1", true},
		{"2001:db8::1", "2001:db8:0:1::1", false},
		{"fe80::1%eth0", "fe80::2", true},
		{"1.2.3.4", "102:304::", false},
	} {
		a, b := netip.MustParseAddr(tc.a), netip.MustParseAddr(tc.b)
		if same := sc.hash(a) == sc.hash(b); same != tc.same {
			t.Errorf("%s and %s: one source %v, want %v", tc.a, tc.b, same, tc.same)
		}
	}
}

// TestSourceCountsBounded: the per-source counts take the same memory whatever the
// number of sources, never let a source past its cap, rarely hold an honest one
// back, and come back to zero.
func TestSourceCountsBounded(t *testing.T) {
	sc := &sourceCounts{seed: maphash.MakeSeed()}
	if size := unsafe.Sizeof(sc.rows); size != 64<<10 {
		t.Errorf("counters take %d bytes, want 64 KiB", size)
	}
	const sources, limit = 1024, 3
	held := make(map[uint64]int, sources)
	taken := 0
	for i := range sources {
		h := sc.hash(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}))
		for range limit + 1 {
			if sc.take(h, limit) {
				held[h]++
				taken++
			}
		}
		if held[h] > limit {
			t.Fatalf("source %d holds %d connections, cap %d", i, held[h], limit)
		}
	}
	// A count is over the truth only where a source shares every row's counter
	// with others: rare at this load.
	if taken < sources*limit*95/100 {
		t.Errorf("honest sources got %d of %d connections", taken, sources*limit)
	}
	for h, n := range held {
		for range n {
			sc.give(h)
		}
	}
	for r := range sc.rows {
		for i := range sc.rows[r] {
			if v := sc.rows[r][i].Load(); v != 0 {
				t.Fatalf("counter [%d][%d] = %d after every connection closed", r, i, v)
			}
		}
	}
}
