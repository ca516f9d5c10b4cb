package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/web"
	"github.com/swarmlight/swarmlight/hw/sim"
)

// box is a tracker running in this process, its HTTP front on a loopback port
// that its configuration file names.
type box struct {
	config string // --config FILE for commands aimed at it
	addr   string // its HTTP address
	flags  []string
}

// startBox runs the tracker until the test ends, with extra flags.
func startBox(t *testing.T, extra ...string) *box {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b := &box{config: configFile(t, ""), addr: addr}
	b.flags = append([]string{"--config", b.config, "--http.listen", addr, "--udp.listen", "127.0.0.1:0", "--panel.mode", "off"}, extra...)
	cfg, _, status, ok := loadConfig("serve", b.flags, io.Discard, io.Discard)
	if !ok {
		t.Fatalf("config: status %d", status)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- appliance.Run(ctx, cfg, slog.New(slog.DiscardHandler), appliance.Options{Version: "9.8.7-test"})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("tracker: %v", err)
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return b
		}
		if time.Now().After(deadline) {
			t.Fatalf("tracker not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// announce sends an HTTP announce for torrent n from a peer on port.
func (b *box) announce(t *testing.T, n int, port int, left int) {
	t.Helper()
	if body := b.tryAnnounce(t, n, port, left); strings.Contains(body, "failure reason") {
		t.Fatalf("announce refused: %s", body)
	}
}

// tryAnnounce is announce, returning the reply, refused or not.
func (b *box) tryAnnounce(t *testing.T, n int, port int, left int) string {
	t.Helper()
	q := url.Values{"info_hash": {fmt.Sprintf("status-test-hash%04d", n)}, "peer_id": {fmt.Sprintf("-ST0001-%012d", port)},
		"port": {fmt.Sprint(port)}, "left": {fmt.Sprint(left)}, "uploaded": {"0"}, "downloaded": {"0"}}
	resp, err := http.Get("http://" + b.addr + "/announce?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return string(body)
}

// stats is the box's /stats.json, read directly.
func (b *box) stats(t *testing.T) web.Snapshot {
	t.Helper()
	resp, err := http.Get("http://" + b.addr + "/stats.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s web.Snapshot
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// status runs swarmlight status with args.
func status(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = run(append([]string{"status"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// The status command prints the figures of a running tracker, found from its
// configuration or given as a URL, as /stats.json has them.
func TestStatus(t *testing.T) {
	b := startBox(t)
	b.announce(t, 1, 6881, 0)
	b.announce(t, 1, 6882, 100)
	b.announce(t, 2, 6883, 100)
	want := b.stats(t)

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"from the configuration", b.flags},
		{"the page's URL", []string{"--config", b.config, "http://" + b.addr + "/"}},
		{"host and port", []string{"--config", b.config, b.addr}},
		{"the stats URL", []string{"--config", b.config, "http://" + b.addr + "/stats.json"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := status(tc.args...)
			if code != exitOK {
				t.Fatalf("status %d: %s", code, errOut)
			}
			lines := map[string]string{}
			for _, l := range strings.Split(out, "\n") {
				if k, v, ok := strings.Cut(l, "  "); ok && !strings.HasPrefix(l, " ") {
					lines[k] = strings.TrimSpace(v)
				}
			}
			for label, value := range map[string]string{
				"tracker":     "http://" + b.addr + "/stats.json",
				"version":     "9.8.7-test",
				"access mode": want.AccessMode,
				"torrents":    fmt.Sprintf("%d (%d active)", want.Torrents, want.ActiveSwarms),
				"peers":       fmt.Sprint(want.Peers),
				"scrapes":     "0",
				"caps hit":    "none",
				"problems":    "none",
			} {
				if lines[label] != value {
					t.Errorf("%s: %q, want %q\n%s", label, lines[label], value, out)
				}
			}
			if want.Torrents != 2 || want.Peers != 3 || want.Seeders != 1 {
				t.Errorf("/stats.json: %d torrents, %d peers, %d seeders; want 2, 3, 1", want.Torrents, want.Peers, want.Seeders)
			}
			for _, l := range [][]string{
				{"seeders", fmt.Sprint(want.Seeders)},
				{"leechers", fmt.Sprint(want.Leechers)},
				{"partial", "seeds", "0"},
				{"announce", "URLs", "http://" + b.addr + "/announce"},
			} {
				if !hasLine(out, l) {
					t.Errorf("no line %q in\n%s", l, out)
				}
			}
		})
	}
}

// hasLine reports whether a line of out has exactly the words fields.
func hasLine(out string, fields []string) bool {
	for _, l := range strings.Split(out, "\n") {
		if slices.Equal(strings.Fields(l), fields) {
			return true
		}
	}
	return false
}

// A tracker that cannot be reached, refuses, or is no tracker is a clear error
// and exit status 1; a URL that is none is bad usage.
func TestStatusFails(t *testing.T) {
	refusing := startBox(t, "--tracker.allowed_networks", "10.0.0.0/8")
	notTracker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>") }))
	defer notTracker.Close()
	closed := closedPort(t)
	cfg := configFile(t, "")
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"nothing listening", []string{"--config", cfg, "--http.listen", closed}, exitFail, "no answer from the tracker"},
		{"a network not allowed", []string{"--config", cfg, refusing.addr}, exitFail, "403 Forbidden: forbidden"},
		{"not a tracker", []string{"--config", cfg, notTracker.URL}, exitFail, "not a tracker's figures"},
		{"not a URL", []string{"--config", cfg, "ftp://box/"}, exitUsage, "no http:// URL"},
		{"two URLs", []string{"--config", cfg, "a:1", "b:2"}, exitUsage, "at most one URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := status(tc.args...)
			if code != tc.code || !strings.Contains(errOut, tc.stderr) || out != "" {
				t.Errorf("status %d, stdout %q, stderr %q; want %d and %q", code, out, errOut, tc.code, tc.stderr)
			}
		})
	}
}

// panel --from draws the pages of a running tracker: what its display would
// show, not the demo. A tracker that does not answer leaves the folder unmade.
func TestPanelFrom(t *testing.T) {
	// One torrent, and a second refused at the cap: figures the demo has not.
	b := startBox(t, "--swarm.max_torrents", "1")
	b.announce(t, 1, 6881, 0)
	if body := b.tryAnnounce(t, 2, 6882, 5); !strings.Contains(body, "too many torrents") {
		t.Fatalf("second torrent not refused at the cap: %s", body)
	}
	// The box's panel names the cap hit ("tracker is full") from its next redraw
	// on: wait for it, so that both looks below see the same problems.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		v, err := liveView("http://"+b.addr+"/stats.json", "swarmlight")
		if err == nil && slices.Contains(v.Problems, "tracker is full") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the box never showed the cap hit as a problem: %+v, %v", v.Problems, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "pages")
	var out, errOut bytes.Buffer
	if code := run([]string{"panel", "--png", dir, "--from", "http://" + b.addr + "/", "--config", b.config}, &out, &errOut); code != exitOK {
		t.Fatalf("panel --from: %d: %s", code, errOut.String())
	}
	live, err := liveView("http://"+b.addr+"/stats.json", "swarmlight")
	if err != nil {
		t.Fatal(err)
	}
	if live.Snapshot.Torrents != 1 || live.Snapshot.Seeders != 1 || live.Snapshot.CapHits != 1 || len(live.URLs) == 0 {
		t.Fatalf("live view %+v", live)
	}
	demo := panel.Demo("swarmlight")
	// The lines of text that stay put while the test runs: the announce URL;
	// torrents, seeders and leechers; the health lines below memory. The rate,
	// the uptime, the graph and the memory move.
	const line = 13
	for _, tc := range []struct {
		page   int
		y0, y1 int
	}{
		{panel.PageAnnounce, 0, 64},
		{panel.PageSwarms, 0, 3 * line},
		{panel.PageHealth, line, 4 * line},
	} {
		got := gray(readPNG(t, filepath.Join(dir, fmt.Sprintf("page-%d.png", tc.page+1))))
		rows := func(g *image.Gray) []byte {
			return g.Pix[tc.y0*sim.Scale*g.Stride : min(tc.y1*sim.Scale, g.Bounds().Dy())*g.Stride]
		}
		if !bytes.Equal(rows(got), rows(simPNG(t, tc.page, live))) {
			t.Errorf("page %d is not the live state", tc.page+1)
		}
		if bytes.Equal(rows(got), rows(simPNG(t, tc.page, demo))) {
			t.Errorf("page %d is the demo's", tc.page+1)
		}
	}

	gone := filepath.Join(t.TempDir(), "never")
	errOut.Reset()
	if code := run([]string{"panel", "--png", gone, "--from", closedPort(t), "--config", b.config}, io.Discard, &errOut); code != exitFail ||
		!strings.Contains(errOut.String(), "no answer from the tracker") {
		t.Errorf("unreachable: %d, %q", code, errOut.String())
	}
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("%s made for a tracker that did not answer", gone)
	}
}

// simPNG is page of v as the simulated 128×64 display writes it, read back.
func simPNG(t *testing.T, page int, v panel.View) *image.Gray {
	t.Helper()
	path := filepath.Join(t.TempDir(), "page.png")
	if err := sim.NewDisplay(128, 64, path).Draw(panel.Render(page, v, image.Rect(0, 0, 128, 64))); err != nil {
		t.Fatal(err)
	}
	return gray(readPNG(t, path))
}

// closedPort is a loopback address nothing listens on: connecting is refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func readPNG(t *testing.T, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// gray is img as the display's 8-bit gray.
func gray(img image.Image) *image.Gray {
	b := img.Bounds()
	g := image.NewGray(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			g.Set(x, y, img.At(x, y))
		}
	}
	return g
}

// The live view is /stats.json in the panel's terms; the rate sampled every
// 10 s becomes announces per minute, newest minute whole.
func TestLiveView(t *testing.T) {
	s := web.Snapshot{
		UptimeSeconds: 3725, Torrents: 7, Peers: 10, Seeders: 4, Leechers: 6, ActiveSwarms: 2, AnnouncesTotal: 999,
		AnnouncesPerSecond: 1.5, MemoryBytes: 5 << 20, MemoryBudgetBytes: 50 << 20,
		CapRefusals:               web.CapRefusals{Torrents: 1, SourcePeers: 2, HTTPConnections: 40},
		Problems:                  []string{"config reload failed"},
		AnnounceURLs:              []string{"http://10.0.0.2:6969/announce"},
		HistoryAnnouncesPerSecond: []float64{0.1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(s) }))
	defer srv.Close()
	v, err := liveView(srv.URL+"/stats.json", "box")
	if err != nil {
		t.Fatal(err)
	}
	want := panel.View{
		Name: "box", URLs: s.AnnounceURLs,
		Snapshot: panel.Snapshot{Torrents: 7, Seeders: 4, Leechers: 6, Active: 2, Announces: 999, CapHits: 3,
			HeapBytes: 5 << 20, MemLimit: 50 << 20, Problems: s.Problems},
		Rate: 1.5, PerMin: []uint32{1, 60, 120}, Uptime: 3725 * time.Second, Problems: s.Problems,
	}
	if fmt.Sprintf("%+v", v) != fmt.Sprintf("%+v", want) {
		t.Errorf("view\n%+v\nwant\n%+v", v, want)
	}
}

func TestPerMinute(t *testing.T) {
	for _, tc := range []struct {
		rates []float64
		want  []uint32
	}{
		{nil, []uint32{}},
		{[]float64{1}, []uint32{10}},
		{[]float64{1, 1, 1, 1, 1, 1}, []uint32{60}},
		{[]float64{3, 1, 1, 1, 1, 1, 1}, []uint32{30, 60}},
		{[]float64{-1, 0.04}, []uint32{0}},
	} {
		if got := perMinute(tc.rates); fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("perMinute(%v) = %v, want %v", tc.rates, got, tc.want)
		}
	}
}

// Where status looks: the URL given, completed to /stats.json, or the
// configuration's first HTTP address, on loopback for a wildcard.
func TestStatsURLs(t *testing.T) {
	for _, tc := range []struct {
		arg, listen, want string
	}{
		{arg: "http://swarmlight.local:6969/", want: "http://swarmlight.local:6969/stats.json"},
		{arg: "http://swarmlight.local:6969", want: "http://swarmlight.local:6969/stats.json"},
		{arg: "192.168.1.20:6969", want: "http://192.168.1.20:6969/stats.json"},
		{arg: "https://box.example/tracker/stats.json", want: "https://box.example/tracker/stats.json"},
		{arg: "ftp://box/", want: ""},
		{arg: "http://", want: ""},
		{listen: ":6969", want: "http://127.0.0.1:6969/stats.json"},
		{listen: "0.0.0.0:7000", want: "http://127.0.0.1:7000/stats.json"},
		{listen: "[::]:7000", want: "http://127.0.0.1:7000/stats.json"},
		{listen: "192.168.1.20:6969", want: "http://192.168.1.20:6969/stats.json"},
		{listen: "[::1]:6969", want: "http://[::1]:6969/stats.json"},
	} {
		var got string
		var err error
		if tc.arg != "" {
			got, err = statsURL(tc.arg)
		} else {
			var cfg config.Config
			cfg.HTTP.Listen = []string{tc.listen}
			got, err = localStatsURL(cfg)
		}
		if got != tc.want || (err != nil) != (tc.want == "") {
			t.Errorf("%q%q: %q, %v; want %q", tc.arg, tc.listen, got, err, tc.want)
		}
	}
}
