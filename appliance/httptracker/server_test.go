package httptracker

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/query"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// testConfigs are the defaults (configs/swarmlight.yaml), with a small header
// limit to test against.
func testConfigs() (Config, tracker.Config) {
	return Config{
			ReadHeaderTimeout:       5 * time.Second,
			WriteTimeout:            10 * time.Second,
			IdleTimeout:             15 * time.Second,
			MaxHeaderBytes:          4096,
			MaxConnections:          1024,
			MaxConnectionsPerSource: 32,
			ScrapeMax:               74,
		}, tracker.Config{
			Interval:       30 * time.Minute,
			MinInterval:    15 * time.Minute,
			NumWantDefault: 50,
			NumWantMax:     200,
			ScrapeMax:      74,
			AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
				netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
				netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("fc00::/7")},
		}
}

// testPeerTimeout is the default peer timeout, 1.5 × the default interval.
const testPeerTimeout = 45 * time.Minute

func newServer(hc Config, tc tracker.Config) *Server {
	store := swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{})
	return New(hc, tracker.New(tc, store, nil), slog.New(slog.DiscardHandler))
}

// serve runs s on a loopback listener until the test ends.
func serve(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.close)
	return l.Addr().String()
}

const testQuery = "info_hash=abcdefghij0123456789&peer_id=-TT0001-000000000001&port=6881&left=0&uploaded=0&downloaded=0"

func TestRoutes(t *testing.T) {
	s := newServer(testConfigs())
	for _, tc := range []struct {
		method, target string
		status         int
		body           string
	}{
		{"GET", "/announce?" + testQuery, 200, "8:completei1e"},
		{"HEAD", "/announce?" + testQuery, 200, ""},
		{"GET", "/scrape?info_hash=abcdefghij0123456789", 200, "5:filesd20:abcdefghij0123456789d"},
		{"GET", "/announce?info_hash=short", 200, "14:failure reason"},
		{"GET", "/announce?" + strings.Repeat("x", query.MaxLen+1), 200, "too long"},
		{"POST", "/announce?" + testQuery, 405, "method not allowed"},
		{"GET", "/", 404, "/announce"},
		{"GET", "/announce.php?" + testQuery, 404, ""},
	} {
		req := httptest.NewRequest(tc.method, tc.target, nil)
		req.RemoteAddr = "127.0.0.1:40000"
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != tc.status || !strings.Contains(rec.Body.String(), tc.body) {
			t.Errorf("%s %.60s: %d %q, want %d containing %q", tc.method, tc.target, rec.Code, rec.Body.String(), tc.status, tc.body)
		}
		if tc.status == 200 && rec.Header().Get("Content-Type") != "text/plain" {
			t.Errorf("%s %.60s: content type %q", tc.method, tc.target, rec.Header().Get("Content-Type"))
		}
	}
}

func TestHeaderTooLarge(t *testing.T) {
	hc, tc := testConfigs()
	addr := serve(t, newServer(hc, tc))
	req, _ := http.NewRequest("GET", "http://"+addr+"/announce?"+testQuery, nil)
	req.Header.Set("X-Padding", strings.Repeat("p", 2*hc.MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

// TestConnectionCap: with MaxConnections reached, the next connection is answered
// 503 at once rather than queued, and a slot that frees serves again.
func TestConnectionCap(t *testing.T) {
	hc, tc := testConfigs()
	hc.MaxConnections = 1
	s := newServer(hc, tc)
	addr := serve(t, s)
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	request := "GET /announce?" + testQuery + " HTTP/1.1\r\nHost: t\r\n\r\n"
	if _, err := io.WriteString(first, request); err != nil {
		t.Fatal(err)
	}
	fr := bufio.NewReader(first)
	if resp, err := http.ReadResponse(fr, nil); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if _, err := io.WriteString(second, request); err != nil {
		t.Fatal(err)
	}
	_ = second.SetReadDeadline(time.Now().Add(time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(second), nil)
	if err != nil {
		t.Fatalf("second connection, over the cap: %v; want a 503 at once", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second connection, over the cap: status %d, want 503", resp.StatusCode)
	}
	first.Close()
	waitOpen(t, s, 0) // the slot frees when the server sees the close
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	if _, err := io.WriteString(third, request); err != nil {
		t.Fatal(err)
	}
	_ = third.SetReadDeadline(time.Now().Add(5 * time.Second))
	if resp, err = http.ReadResponse(bufio.NewReader(third), nil); err != nil {
		t.Fatalf("third connection, after the first closed: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("third connection, after the first closed: status %d, want 200", resp.StatusCode)
	}
}

// BenchmarkServeAnnounce is one announce through the whole handler — parse, tracker,
// store, bencode — without the network, in a swarm of 100 peers.
func BenchmarkServeAnnounce(b *testing.B) {
	s := newServer(testConfigs())
	reqs := make([]*http.Request, 100)
	for i := range reqs {
		q := url.Values{}
		q.Set("info_hash", "abcdefghij0123456789")
		q.Set("peer_id", "-TT0001-0000000000"+string(rune('a'+i%26))+string(rune('a'+i/26)))
		q.Set("port", "6881")
		q.Set("left", "100")
		reqs[i] = httptest.NewRequest("GET", "/announce?"+q.Encode(), nil)
		reqs[i].RemoteAddr = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 1, byte(i)}), 40000).String()
		s.ServeHTTP(discard{}, reqs[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		s.ServeHTTP(discard{}, reqs[i%len(reqs)])
		i++
	}
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}
