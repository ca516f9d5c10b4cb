package appliance_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fetch GETs u from the loopback address src and returns the reply and its
// body.
func fetch(t *testing.T, src, u string) (*http.Response, []byte) {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// webRoot starts a tracker on loopback that lets in 127.0.0.1 only, makes a
// few announces, and returns where its pages are.
func webRoot(t *testing.T) string {
	t.Helper()
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.UDP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "off"
	cfg.Tracker.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	r := start(t, cfg)
	for i := range 3 {
		hash := fmt.Sprintf("webtesthash%09d", i)
		for j := range 2 {
			if rr := get(t, "127.0.0.1", r.urls[0]+"?"+query(hash, fmt.Sprintf("-WT0001-%012d", 10*i+j), fmt.Sprint(20000+10*i+j), fmt.Sprintf("left=%d", j))); rr.FailureReason != "" {
				t.Fatalf("announce: %s", rr.FailureReason)
			}
		}
	}
	root := strings.TrimSuffix(r.urls[0], "/announce")
	// The panel shows its first view at its first step, 20 ms after start.
	if !eventually(func() bool { resp, _ := fetch(t, "127.0.0.1", root+"/panel.png"); return resp.StatusCode == 200 }) {
		t.Fatal("no /panel.png within 3 s of start")
	}
	return root
}

// Every endpoint answers with its content type and is never cached; any
// other method is refused; a client outside the allowed networks gets 403
// from each, and nothing else.
func TestWebEndpoints(t *testing.T) {
	root := webRoot(t)
	for _, tc := range []struct {
		path, contentType string
	}{
		{"/", "text/html; charset=utf-8"},
		{"/stats.json", "application/json; charset=utf-8"},
		{"/panel.png", "image/png"},
		{"/panel.png?page=0", "image/png"},
		{"/panel.png?page=3", "image/png"},
		{"/metrics", "text/plain; version=0.0.4; charset=utf-8"},
	} {
		resp, body := fetch(t, "127.0.0.1", root+tc.path)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != tc.contentType {
			t.Errorf("%s: %d %q, want 200 %q", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.contentType)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-store", tc.path, cc)
		}
		if tc.contentType == "image/png" {
			if _, err := png.Decode(bytes.NewReader(body)); err != nil {
				t.Errorf("%s: not a PNG: %v", tc.path, err)
			}
		}
		if resp, _ := fetch(t, "127.0.0.3", root+tc.path); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s from a disallowed network: %d, want 403", tc.path, resp.StatusCode)
		}
	}
	for _, tc := range []struct {
		path   string
		status int
	}{
		{"/panel.png?page=4", 400},
		{"/panel.png?page=x", 400},
		{"/nothing", 404},
	} {
		if resp, body := fetch(t, "127.0.0.1", root+tc.path); resp.StatusCode != tc.status || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; charset=utf-8") {
			t.Errorf("%s: %d %q %q, want %d text/plain", tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), body, tc.status)
		}
	}
	for _, path := range []string{"/", "/stats.json", "/panel.png"} {
		resp, err := http.Post(root+path, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("POST %s: %d, Allow %q; want 405, GET, HEAD", path, resp.StatusCode, resp.Header.Get("Allow"))
		}
	}
}

var statAttr = regexp.MustCompile(`data-stat="([^"]+)"[^>]*?data-value="([^"]*)"`)

// The page, read as a browser without JavaScript would, shows every figure
// /stats.json has, with the same values; it is self-contained and small.
func TestPageFiguresEqualStats(t *testing.T) {
	root := webRoot(t)
	_, page := fetch(t, "127.0.0.1", root+"/")
	_, raw := fetch(t, "127.0.0.1", root+"/stats.json")
	if len(page) >= 100<<10 {
		t.Errorf("page is %d bytes, want under 100 KB", len(page))
	}
	for _, ref := range regexp.MustCompile(`(?:src|href)="(?:https?:)?//`).FindAll(page, -1) {
		t.Errorf("page refers to another host: %s", ref)
	}
	for _, want := range []string{`<html lang="en">`, `name="viewport"`, `<img id="panel-now" src="/panel.png"`, ` alt="`, "<h1>", "<h2"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	var stats map[string]any
	if err := json.Unmarshal(raw, &stats); err != nil {
		t.Fatalf("stats.json: %v\n%s", err, raw)
	}
	if stats["torrents"] != 3.0 || stats["peers"] != 6.0 || stats["seeders"] != 3.0 || stats["leechers"] != 3.0 {
		t.Errorf("stats.json after 6 announces in 3 swarms: %s", raw)
	}
	// Every leaf of /stats.json, by its dotted path.
	leaves := map[string]any{}
	for k, v := range stats {
		if m, ok := v.(map[string]any); ok {
			for k2, v2 := range m {
				leaves[k+"."+k2] = v2
			}
			continue
		}
		leaves[k] = v
	}
	onPage := map[string]bool{}
	for _, m := range statAttr.FindAllSubmatch(page, -1) {
		stat, value := string(m[1]), html.UnescapeString(string(m[2]))
		onPage[stat] = true
		want, ok := leaves[stat]
		if !ok {
			t.Errorf("page shows %s, which stats.json has not", stat)
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(value), &got); err != nil {
			t.Errorf("%s: data-value %q is not JSON", stat, value)
			continue
		}
		switch stat {
		case "uptime_seconds":
			// It moves by itself: a second may pass between the two requests.
			if d := want.(float64) - got.(float64); d < 0 || d > 2 {
				t.Errorf("uptime_seconds: page %v, stats.json %v", got, want)
			}
		case "memory_bytes":
			// The Go heap moves with every request, the page's own included.
			if got.(float64) <= 0 {
				t.Errorf("memory_bytes: page %v", got)
			}
		default:
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: page %v, stats.json %v", stat, got, want)
			}
		}
	}
	for k := range leaves {
		if !onPage[k] {
			t.Errorf("stats.json's %s is not on the page", k)
		}
	}
}
