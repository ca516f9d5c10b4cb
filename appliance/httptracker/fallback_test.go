package httptracker

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// fallbackServer is a front whose tracker lets in 127.0.0.1 and the trusted
// proxy only, so that 127.0.0.3, and a client a proxy names outside them, are
// a disallowed network on loopback.
func fallbackServer(t *testing.T) (*Server, string) {
	t.Helper()
	hc, tc := testConfigs()
	hc.TrustedProxies = testProxies
	tc.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix(proxyHost + "/32")}
	store := swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{})
	s := New(hc, tracker.New(tc, store, nil), slog.New(slog.DiscardHandler))
	return s, serve(t, s)
}

// doFrom sends method target to addr from the loopback address src.
func doFrom(t *testing.T, method, src, addr, target string, header http.Header) (*http.Response, string) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := http.Client{Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}, Timeout: 5 * time.Second}
	req, err := http.NewRequest(method, "http://"+addr+target, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s from %s: %v", method, target, src, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

// A path that is no tracker endpoint goes to the fallback, for allowed
// clients only, judged by the address a trusted proxy names; the tracker's
// endpoints are untouched by it.
func TestFallback(t *testing.T) {
	s, addr := fallbackServer(t)
	var calls int
	s.SetFallback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		io.WriteString(w, "fallback "+r.Method+" "+r.URL.Path)
	}))
	xff := func(a string) http.Header { return http.Header{"X-Forwarded-For": {a}} }
	for _, tc := range []struct {
		name, method, src, target string
		header                    http.Header
		status                    int
		body                      string
		fallback                  bool // whether the fallback answered
	}{
		{"page, allowed", "GET", "127.0.0.1", "/", nil, 200, "fallback GET /", true},
		{"stats, allowed", "GET", "127.0.0.1", "/stats.json", nil, 200, "fallback GET /stats.json", true},
		{"head, allowed", "HEAD", "127.0.0.1", "/", nil, 200, "", true},
		{"post passes to the fallback", "POST", "127.0.0.1", "/catalog", nil, 200, "fallback POST /catalog", true},
		{"page, disallowed network", "GET", directHost, "/", nil, 403, "not allowed", false},
		{"post, disallowed network", "POST", directHost, "/catalog", nil, 403, "not allowed", false},
		{"proxy names a disallowed client", "GET", proxyHost, "/", xff("10.1.1.1"), 403, "not allowed", false},
		{"proxy names an allowed client", "GET", proxyHost, "/", xff("127.0.0.1"), 200, "fallback GET /", true},
		{"untrusted client's own claim ignored", "GET", directHost, "/", xff("127.0.0.1"), 403, "not allowed", false},
		{"announce is the tracker's", "GET", "127.0.0.1", "/announce?" + testQuery, nil, 200, "8:completei", false},
		{"scrape is the tracker's", "GET", "127.0.0.1", "/scrape?info_hash=abcdefghij0123456789", nil, 200, "5:files", false},
		{"key announce is the tracker's", "GET", "127.0.0.1", "/somekey/announce?" + testQuery, nil, 200, "d", false},
		{"disallowed announce refused as before", "GET", directHost, "/announce?" + testQuery, nil, 200, "not allowed", false},
		{"post to announce", "POST", "127.0.0.1", "/announce?" + testQuery, nil, 405, "method not allowed", false},
	} {
		before := calls
		resp, body := doFrom(t, tc.method, tc.src, addr, tc.target, tc.header)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %q, want %d containing %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
		if got := calls > before; got != tc.fallback {
			t.Errorf("%s: fallback answered %v, want %v", tc.name, got, tc.fallback)
		}
		if tc.status == 403 && resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tc.name, resp.Header.Get("Cache-Control"))
		}
	}
}

// Without a fallback, or once it is taken away, other paths are 404 as they
// always were, and other methods 405.
func TestFallbackRemoved(t *testing.T) {
	s, addr := fallbackServer(t)
	s.SetFallback(http.NotFoundHandler())
	s.SetFallback(nil)
	for _, tc := range []struct {
		method string
		status int
	}{{"GET", 404}, {"HEAD", 404}, {"POST", 405}} {
		if resp, body := doFrom(t, tc.method, "127.0.0.1", addr, "/", nil); resp.StatusCode != tc.status {
			t.Errorf("%s /: %d %q, want %d", tc.method, resp.StatusCode, body, tc.status)
		}
	}
	if resp, body := doFrom(t, "GET", "127.0.0.1", addr, "/", nil); !strings.Contains(body, "/announce") {
		t.Errorf("GET /: %d %q, want the 404 that says where to announce", resp.StatusCode, body)
	}
}

// An announce costs no allocation more with a fallback set than without.
func TestFallbackAddsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	s, _ := fallbackServer(t)
	r := httptest.NewRequest("GET", "/announce?"+testQuery, nil)
	r.RemoteAddr = "127.0.0.1:40000"
	w := &keepHeader{h: http.Header{}}
	s.ServeHTTP(w, r)
	without := testing.AllocsPerRun(100, func() { s.ServeHTTP(w, r) })
	s.SetFallback(http.NotFoundHandler())
	if with := testing.AllocsPerRun(100, func() { s.ServeHTTP(w, r) }); with > without {
		t.Errorf("announce: %.1f allocations with a fallback, %.1f without", with, without)
	}
}
