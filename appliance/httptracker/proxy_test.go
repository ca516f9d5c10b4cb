package httptracker

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// The hosts of the proxy tests, on loopback, which is a /8 on Linux: the reverse
// proxy, trusted, and a client that reaches the tracker directly, not trusted.
// 10.9.0.0/16 stands for the inner proxies of a chain.
const (
	proxyHost  = "127.0.0.2"
	directHost = "127.0.0.3"
)

var testProxies = []netip.Prefix{netip.MustParsePrefix(proxyHost + "/32"), netip.MustParsePrefix("10.9.0.0/16")}

// startFront serves an HTTP front with cfg on 127.0.0.1 until the test ends, over
// a tracker that lets every address in and asks acc (nil: open), configured
// further by mods, and returns its address and its log.
func startFront(t *testing.T, cfg Config, acc *access.Control, mods ...func(*tracker.Config)) (string, *privacytest.Output) {
	t.Helper()
	store := swarm.New(swarm.Opts{PeerTimeout: time.Hour}, clock.Real{})
	tc := tracker.Config{
		Interval: 30 * time.Minute, MinInterval: 15 * time.Minute,
		NumWantDefault: 50, NumWantMax: 200, ScrapeMax: 74,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
	}
	for _, mod := range mods {
		mod(&tc)
	}
	trk := tracker.New(tc, store, acc)
	if cfg.ScrapeMax == 0 {
		cfg.ScrapeMax = 74
	}
	cfg.ReadHeaderTimeout, cfg.WriteTimeout, cfg.IdleTimeout = 5*time.Second, 5*time.Second, 5*time.Second
	logs := new(privacytest.Output)
	s := New(cfg, trk, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	return l.Addr().String(), logs
}

// getFrom sends GET target to addr over a connection from the loopback address
// src, with the given host and headers, and returns the status and body.
func getFrom(t *testing.T, src, addr, target, host string, header http.Header) (int, []byte) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 5 * time.Second}
	c := http.Client{
		Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true},
		Timeout:   5 * time.Second,
	}
	req, err := http.NewRequest("GET", "http://"+addr+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s from %s: %v", target, src, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// externalIP is the address an announce reply says the client has (BEP 24).
func externalIP(t *testing.T, body []byte) netip.Addr {
	t.Helper()
	d := decodeDict(t, body)
	if r, ok := d["failure reason"]; ok {
		t.Fatalf("failure reason %q", r)
	}
	ip, _ := d["external ip"].(string)
	a, ok := netip.AddrFromSlice([]byte(ip))
	if !ok {
		t.Fatalf("external ip %q", ip)
	}
	return a.Unmap()
}

// Only a trusted proxy names the client, and only by the rightmost entry that is
// not itself a trusted proxy. The reply's external ip is the address the tracker
// stored the peer under; a second announce's peer list shows the same.
func TestTrustedProxies(t *testing.T) {
	addr, _ := startFront(t, Config{TrustedProxies: testProxies}, nil)
	for i, tc := range []struct {
		name, from string
		header     http.Header
		want       string
	}{
		{"direct, no headers", directHost, nil, directHost},
		{"proxy, no headers", proxyHost, nil, proxyHost},
		{"proxy names the client", proxyHost, http.Header{"X-Forwarded-For": {"10.1.1.1"}}, "10.1.1.1"},
		{"spoofed leftmost entry ignored", proxyHost, http.Header{"X-Forwarded-For": {"6.6.6.6, 10.1.1.1"}}, "10.1.1.1"},
		{"chain of proxies", proxyHost, http.Header{"X-Forwarded-For": {"6.6.6.6, 10.1.1.1, 10.9.0.5,10.9.0.6"}}, "10.1.1.1"},
		{"several headers in order", proxyHost, http.Header{"X-Forwarded-For": {"6.6.6.6", "10.1.1.1, 10.9.0.5"}}, "10.1.1.1"},
		{"every entry trusted: the leftmost", proxyHost, http.Header{"X-Forwarded-For": {"10.9.0.7, 10.9.0.5"}}, "10.9.0.7"},
		{"IPv6 entry", proxyHost, http.Header{"X-Forwarded-For": {"2001:db8::7"}}, "2001:db8::7"},
		{"mapped entry unmapped", proxyHost, http.Header{"X-Forwarded-For": {"::ffff:10.1.1.2"}}, "10.1.1.2"},
		{"entry with port", proxyHost, http.Header{"X-Forwarded-For": {"10.1.1.3:5555"}}, "10.1.1.3"},
		{"bracketed IPv6 entry", proxyHost, http.Header{"X-Forwarded-For": {"[2001:db8::9]"}}, "2001:db8::9"},
		{"bracketed IPv4 is unreadable", proxyHost, http.Header{"X-Forwarded-For": {"[10.1.1.1]"}}, proxyHost},
		{"zoned entry is unreadable", proxyHost, http.Header{"X-Forwarded-For": {"fe80::1%eth0"}}, proxyHost},
		{"unreadable entry: the proxy", proxyHost, http.Header{"X-Forwarded-For": {"10.1.1.1, not-an-address"}}, proxyHost},
		{"unknown entry: the proxy", proxyHost, http.Header{"X-Forwarded-For": {"10.1.1.1, unknown"}}, proxyHost},
		{"Forwarded", proxyHost, http.Header{"Forwarded": {"for=10.2.2.2;proto=https"}}, "10.2.2.2"},
		{"Forwarded IPv6", proxyHost, http.Header{"Forwarded": {`for="[2001:db8::1]:4711"`}}, "2001:db8::1"},
		{"Forwarded chain, spoofed leftmost", proxyHost, http.Header{"Forwarded": {`for=6.6.6.6, For="10.2.2.3:80";by=x, for=10.9.0.5`}}, "10.2.2.3"},
		{"Forwarded several headers", proxyHost, http.Header{"Forwarded": {"for=6.6.6.6", "for=10.2.2.4"}}, "10.2.2.4"},
		{"Forwarded element without for", proxyHost, http.Header{"Forwarded": {"for=10.2.2.5, proto=https;by=10.9.0.5"}}, "10.2.2.5"},
		{"Forwarded unknown: the proxy", proxyHost, http.Header{"Forwarded": {"for=10.2.2.2, for=unknown"}}, proxyHost},
		{"Forwarded obfuscated: the proxy", proxyHost, http.Header{"Forwarded": {"for=10.2.2.2, for=_hidden"}}, proxyHost},
		{"Forwarded unquoted IPv6 is unreadable", proxyHost, http.Header{"Forwarded": {"for=[2001:db8::1]:4711:x"}}, proxyHost},
		{"X-Forwarded-For wins over Forwarded", proxyHost, http.Header{"X-Forwarded-For": {"10.1.1.4"}, "Forwarded": {"for=10.2.2.2"}}, "10.1.1.4"},
		{"untrusted sender's X-Forwarded-For ignored", directHost, http.Header{"X-Forwarded-For": {"10.1.1.1"}}, directHost},
		{"untrusted sender's Forwarded ignored", directHost, http.Header{"Forwarded": {"for=10.2.2.2"}}, directHost},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// A torrent per case, so that the peer list holds this case's peer only.
			hash := strings.Repeat(string(rune('A'+i)), 20)
			q := "info_hash=" + hash + "&port=6881&left=0&peer_id=-TT0001-0000000000"
			_, body := getFrom(t, tc.from, addr, "/announce?"+q+"01", "", tc.header)
			want := netip.MustParseAddr(tc.want)
			if got := externalIP(t, body); got != want {
				t.Errorf("external ip %v, want %v", got, want)
			}
			_, body = getFrom(t, directHost, addr, "/announce?"+q+"02&left=5&port=6882", "", nil)
			d := decodeDict(t, body)
			peers, _ := d["peers"].(string)
			if want.Is6() {
				peers, _ = d["peers6"].(string)
			}
			if len(peers) < 2 {
				t.Fatalf("peer list %x, want %v:6881", peers, want)
			}
			got, _ := netip.AddrFromSlice([]byte(peers[:len(peers)-2]))
			if len(peers) != len(want.AsSlice())+2 || got != want {
				t.Errorf("peer list %x, want %v:6881 alone", peers, want)
			}
		})
	}
}

// The 404 page names the announce URL with the host the client asked for, and
// the scheme a trusted proxy says the client used; nobody else can set the scheme,
// and a host that is not one is left out.
func TestNotFoundURL(t *testing.T) {
	addr, _ := startFront(t, Config{TrustedProxies: testProxies}, nil)
	https := http.Header{"X-Forwarded-Proto": {"https"}}
	for _, tc := range []struct {
		name, from, host string
		header           http.Header
		want             string
	}{
		{"direct", directHost, "tracker.example:6969", nil, "announce to http://tracker.example:6969/announce"},
		{"proxy says https", proxyHost, "tracker.example", https, "announce to https://tracker.example/announce"},
		{"proxy chain says https first", proxyHost, "tracker.example", http.Header{"X-Forwarded-Proto": {"HTTPS, http"}}, "announce to https://tracker.example/announce"},
		{"untrusted sender's proto ignored", directHost, "tracker.example", https, "announce to http://tracker.example/announce"},
		{"unknown proto ignored", proxyHost, "tracker.example", http.Header{"X-Forwarded-Proto": {"gopher"}}, "announce to http://tracker.example/announce"},
		{"IPv6 host", directHost, "[fd00::1]:6969", nil, "announce to http://[fd00::1]:6969/announce"},
		{"IPv4 host", directHost, "192.168.1.20:6969", nil, "announce to http://192.168.1.20:6969/announce"},
		{"bad host left out", directHost, "evil.example/<b>", nil, "announce to /announce"},
		{"bad port left out", directHost, "tracker.example:69x", nil, "announce to /announce"},
		{"label too long left out", directHost, strings.Repeat("a", 64) + ".example", nil, "announce to /announce"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := getFrom(t, tc.from, addr, "/", tc.host, tc.header)
			if status != http.StatusNotFound || !strings.Contains(string(body), tc.want+"\n") {
				t.Errorf("%d %q, want 404 with %q", status, body, tc.want)
			}
		})
	}
}

// Passkeys route: /KEY/announce and /KEY/scrape, KEY exactly one segment.
func TestRoute(t *testing.T) {
	for _, tc := range []struct{ path, endpoint, key string }{
		{"/announce", "announce", ""},
		{"/scrape", "scrape", ""},
		{"/k3y/announce", "announce", "k3y"},
		{"/k3y/scrape", "scrape", "k3y"},
		{"/", "", ""},
		{"//announce", "", ""},
		{"/a/b/announce", "", ""},
		{"/k3y/announce/", "", ""},
		{"/k3y", "", ""},
		{"/announce.php", "", ""},
		{"/k3y/other", "", ""},
	} {
		if e, k := route(tc.path); e != tc.endpoint || k != tc.key {
			t.Errorf("route(%q) = %q, %q; want %q, %q", tc.path, e, k, tc.endpoint, tc.key)
		}
	}
}

// Telling the client's address costs no allocation when the connection is the
// client's own, proxies configured or not, and routing a key costs none either.
// Reading a proxy's headers costs none either, though nothing requires it.
func TestClientAddressAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	store := swarm.New(swarm.Opts{}, clock.Real{})
	s := New(Config{TrustedProxies: testProxies}, tracker.New(tracker.Config{}, store, nil), slog.New(slog.DiscardHandler))
	r := httptest.NewRequest("GET", "/0f1e2d3c4b5a69788796a5b4c3d2e1f0/announce", nil)
	r.RemoteAddr = directHost + ":40000"
	r.Header.Set("X-Forwarded-For", "10.1.1.1")
	var sink netip.Addr
	var k access.Key
	if n := testing.AllocsPerRun(100, func() {
		sink, _ = s.client(r)
		_, key := route(r.URL.Path)
		setPathKey(&k, key)
	}); n != 0 {
		t.Errorf("a direct request's address and key cost %.1f allocations", n)
	}
	if sink != netip.MustParseAddr(directHost) || k.Len() != 32 {
		t.Errorf("client %v, key length %d", sink, k.Len())
	}

	r.RemoteAddr = proxyHost + ":40000"
	for _, h := range []http.Header{
		{"X-Forwarded-For": {"6.6.6.6, 2001:db8::7, 10.9.0.5"}},
		{"Forwarded": {`for=6.6.6.6, For="[2001:db8::1]:4711";by=x, for=10.9.0.5`}},
	} {
		r.Header = h
		if n := testing.AllocsPerRun(100, func() { sink, _ = s.client(r) }); n != 0 {
			t.Errorf("a proxied request's address (%v) costs %.1f allocations", h, n)
		}
		if sink.Is4() {
			t.Errorf("client %v, want the IPv6 entry", sink)
		}
	}
}
