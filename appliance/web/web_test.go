package web

import (
	"encoding/json"
	"fmt"
	"image"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/panel"
)

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{count(0), "0"},
		{count(999), "999"},
		{count(1000), "1,000"},
		{count(1234567), "1,234,567"},
		{count(-1234), "-1,234"},
		{bytesText(512), "512 B"},
		{bytesText(1536), "1.5 KiB"},
		{bytesText(104 << 20), "104.0 MiB"},
		{bytesText(3 << 30), "3.0 GiB"},
		{duration(42), "42 s"},
		{duration(125), "2 min 5 s"},
		{duration(3725), "1 h 2 min"},
		{duration(2*86400 + 5*3600), "2 d 5 h"},
		{rate(0), "0.0"},
		{rate(12.34), "12.3"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestGraphPoints(t *testing.T) {
	for _, tc := range []struct {
		history []float64
		want    string
	}{
		{nil, ""},
		{[]float64{0, 0}, "358,100.0 359,100.0"},
		// The newest sample at the right edge, the peak at the top.
		{[]float64{1, 4, 2}, "357,75.0 358,0.0 359,50.0"},
	} {
		if got := graphPoints(tc.history); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.history, got, tc.want)
		}
	}
}

// A QR code is a square of dark runs inside a quiet zone, labelled with its
// text, escaped.
func TestQRSVG(t *testing.T) {
	for _, text := range []string{"http://192.168.1.20:6969/announce", "udp://[fd00::1]:6969/announce", `http://x/"<a>&`} {
		svg, err := qrSVG(text)
		if err != nil {
			t.Fatal(err)
		}
		s := string(svg)
		if !strings.HasPrefix(s, `<svg class="qr"`) || !strings.Contains(s, `<path fill="#000" d="M4 4h7v1h-7z`) {
			t.Errorf("%s: not a QR code with its finder pattern at the quiet zone's corner: %.200s", text, s)
		}
		if strings.Contains(s, "<a>") || !strings.Contains(s, "QR code for ") {
			t.Errorf("%s: label not escaped or missing: %.300s", text, s)
		}
	}
}

// fixed is a Source with every list filled, and a problem that is markup.
func fixed() Snapshot {
	return Snapshot{Version: "1.2.3", UptimeSeconds: 3725, AccessMode: "private", Torrents: 1234, Peers: 5, Seeders: 2,
		Leechers: 3, PartialSeeds: 1, ActiveSwarms: 1, AnnouncesTotal: 99, AnnouncesPerSecond: 1.25,
		MemoryBytes: 12 << 20, MemoryBudgetBytes: 100 << 20, CapRefusals: CapRefusals{Peers: 4}, UDP: UDPStats{Packets: 7},
		Problems:     []string{"<script>alert(1)</script>"},
		AnnounceURLs: []string{"http://192.168.1.20:6969/announce"}, HistoryAnnouncesPerSecond: []float64{1, 2}}
}

func serveWeb(t *testing.T, o Options) (*Server, string) {
	t.Helper()
	s := New(o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, ts.URL
}

func getURL(t *testing.T, method, u string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// What is off is 404; what is on answers GET and HEAD only.
func TestRoutes(t *testing.T) {
	hit := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name+" "+r.Method) })
	}
	shown := func() (panel.Shown, bool) {
		return panel.Shown{Page: 1, View: panel.Demo("box"), Bounds: image.Rect(0, 0, 128, 64)}, true
	}
	on := Options{Source: fixed, Panel: shown, Metrics: hit("metrics"), Catalog: hit("catalog"),
		Shelf: func() []ShelfItem {
			return []ShelfItem{{Name: "debian.iso", Size: 1 << 30, Magnet: "magnet:?xt=x", Download: "/catalog/x.torrent"}}
		}}
	s, root := serveWeb(t, on)
	for _, tc := range []struct {
		name         string
		o            Options
		method, path string
		status       int
		body         string
	}{
		{"page", on, "GET", "/", 200, "<html"},
		{"page head", on, "HEAD", "/", 200, ""},
		{"stats", on, "GET", "/stats.json", 200, `"torrents":1234`},
		{"metrics", on, "GET", "/metrics", 200, "metrics GET"},
		{"catalog upload", on, "POST", "/catalog", 200, "catalog POST"},
		{"catalog file", on, "GET", "/catalog/x.torrent", 200, "catalog GET"},
		{"post page", on, "POST", "/", 405, "method not allowed"},
		{"delete stats", on, "DELETE", "/stats.json", 405, "method not allowed"},
		{"elsewhere", on, "GET", "/index.html", 404, "not found"},
		{"catalogue is not catalog", on, "GET", "/catalogue", 404, "not found"},
		{"status off: page", Options{Metrics: hit("metrics")}, "GET", "/", 404, "not found"},
		{"status off: stats", Options{Metrics: hit("metrics")}, "GET", "/stats.json", 404, "not found"},
		{"status off: panel", Options{Metrics: hit("metrics")}, "GET", "/panel.png", 404, "not found"},
		{"status off: metrics on", Options{Metrics: hit("metrics")}, "GET", "/metrics", 200, "metrics"},
		{"metrics off", Options{Source: fixed}, "GET", "/metrics", 404, "not found"},
		{"catalog off", Options{Source: fixed}, "POST", "/catalog", 404, "not found"},
		{"no panel yet", Options{Source: fixed}, "GET", "/panel.png", 404, "no panel"},
	} {
		s.Set(tc.o)
		resp, body := getURL(t, tc.method, root+tc.path)
		if resp.StatusCode != tc.status || !strings.Contains(body, tc.body) {
			t.Errorf("%s: %d %.80q, want %d containing %q", tc.name, resp.StatusCode, body, tc.status, tc.body)
		}
	}
}

// The page shows what it is given, escaped, and what is on: the panel and
// the shelf, with the note for members in private mode.
func TestPage(t *testing.T) {
	shown := func() (panel.Shown, bool) {
		return panel.Shown{Page: 2, View: panel.Demo("box"), Bounds: image.Rect(0, 0, 128, 32)}, true
	}
	_, root := serveWeb(t, Options{Source: fixed, Panel: shown, Refresh: 3 * time.Second, Catalog: http.NotFoundHandler(),
		Shelf: func() []ShelfItem {
			return []ShelfItem{{Name: "<b>debian</b>.iso", Size: 1 << 30, Magnet: "magnet:?xt=urn:btih:x", Download: "/catalog/x.torrent"}}
		}})
	resp, page := getURL(t, "GET", root+"/")
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{
		`data-stat="torrents" data-format="count" data-value="1234">1,234<`,
		`data-stat="access_mode" data-format="text" data-value="&#34;private&#34;">private<`,
		`data-stat="cap_refusals.peers"`, `data-stat="udp.packets"`,
		`&lt;script&gt;alert(1)&lt;/script&gt;`,
		`<code>http://192.168.1.20:6969/announce</code>`, `aria-label="QR code for http://192.168.1.20:6969/announce"`,
		`alt="The front panel&#39;s display as it shows now: page 3 of 4, announces per minute, last hour."`,
		`src="/panel.png?page=3"`, `width="256" height="64"`,
		`&lt;b&gt;debian&lt;/b&gt;.iso`, `href="magnet:?xt=urn:btih:x"`, `1.0 GiB`, `?key=YOUR-KEY`,
		`name="torrent" type="file"`, "Figures update every 3s.", "var every= 3000 ;",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<b>debian") {
		t.Error("page holds unescaped markup from its figures")
	}
	// /stats.json has empty lists, never null.
	_, root = serveWeb(t, Options{Source: func() Snapshot { return Snapshot{} }})
	resp, raw := getURL(t, "GET", root+"/stats.json")
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"problems", "announce_urls", "history_announces_per_second"} {
		if string(m[k]) != "[]" {
			t.Errorf("%s: %s, want []", k, m[k])
		}
	}
	if resp.Header.Get("Content-Type") != "application/json; charset=utf-8" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("stats.json headers: %v", resp.Header)
	}
}

// However many addresses the box has, the page stays under 100 KB: the
// first maxQR URLs get a code, the rest are text.
func TestPageSize(t *testing.T) {
	for _, n := range []int{0, 2, maxQR, 40} {
		snap := fixed()
		snap.AnnounceURLs = nil
		for i := range n {
			snap.AnnounceURLs = append(snap.AnnounceURLs, fmt.Sprintf("http://[2001:db8:1234:5678:9abc:def0:1234:%04x]:6969/announce", i))
		}
		snap.HistoryAnnouncesPerSecond = make([]float64, 360)
		for i := range snap.HistoryAnnouncesPerSecond {
			snap.HistoryAnnouncesPerSecond[i] = float64(i%37) * 1.37
		}
		_, root := serveWeb(t, Options{Source: func() Snapshot { return snap }})
		_, page := getURL(t, "GET", root+"/")
		if len(page) >= 100<<10 {
			t.Errorf("%d URLs: page is %d bytes, want under 100 KB", n, len(page))
		}
		if got, want := strings.Count(page, `<svg class="qr"`), min(n, maxQR); got != want {
			t.Errorf("%d URLs: %d QR codes, want %d", n, got, want)
		}
		if got := strings.Count(page, "<code>http://[2001:db8:"); got != n {
			t.Errorf("%d URLs: %d shown", n, got)
		}
	}
}

// Markup in a problem, a shelf name or a shelf link is shown as text, never
// run: the page is written by hand, and every value from outside is escaped.
func TestPageEscapes(t *testing.T) {
	const evil = `<script>alert(1)</script>"'&`
	const shown = `&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;`
	_, root := serveWeb(t, Options{
		Source: func() Snapshot {
			s := fixed()
			s.Problems = []string{evil}
			s.Version = evil
			return s
		},
		Catalog: http.NotFoundHandler(),
		Shelf: func() []ShelfItem {
			return []ShelfItem{
				{Name: evil, Size: 1, Magnet: "magnet:?xt=urn:btih:x&dn=" + evil, Download: "/catalog/x.torrent?n=" + evil},
				{Name: "b", Size: 1, Magnet: "javascript:alert(1)", Download: "javascript:alert(1)"},
			}
		}})
	_, page := getURL(t, "GET", root+"/")
	for _, want := range []string{
		`<li>` + shown + `</li>`,
		`<td>` + shown + `</td>`,
		`data-format="text" data-value="&#34;\u003cscript\u003ealert(1)\u003c/script\u003e\&#34;&#39;\u0026&#34;">` + shown + `</span>`,
		`data-value="[&#34;\u003cscript\u003ealert(1)\u003c/script\u003e\&#34;&#39;\u0026&#34;]"`,
		`<a href="magnet:?xt=urn:btih:x&amp;dn=%3cscript%3ealert%281%29%3c/script%3e%22%27&amp;">magnet link</a>`,
		`<a href="/catalog/x.torrent?n=%3cscript%3ealert%281%29%3c/script%3e%22%27&amp;" download>`,
		`<td>b</td><td>1 B</td><td><a href="#" download>.torrent</a></td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if n := strings.Count(page, "<script"); n != 1 || strings.Contains(page, "javascript:") || strings.Contains(page, `"'&`) {
		t.Errorf("page holds unescaped markup (%d script elements): %s", n, page)
	}
}
