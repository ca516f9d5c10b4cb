package appliance_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/types/infohash"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestStatusPageInBrowser loads the status page of a running tracker in headless
// Chromium, after real announces over HTTP and UDP from loopback, and checks what
// a person would see: every figure on the page equals /stats.json's, the figures
// follow new announces without a reload, the page asks no host but the box, the
// figures are right with JavaScript off, and it fits a phone's width. It saves
// screenshots as test artefacts (UPDATE_SCREENSHOT=1 also writes docs/).
func TestStatusPageInBrowser(t *testing.T) {
	tab := newBrowser(t)
	cfg := loopbackConfig(t)
	cfg.Web.Enabled = true
	cfg.Web.Refresh = time.Second
	r := start(t, cfg, startOpts{version: "dev"})
	site := statusSite{base: strings.TrimSuffix(r.urls[0], "/announce"), refresh: cfg.Web.Refresh}
	udpAt := strings.TrimSuffix(strings.TrimPrefix(r.urls[2], "udp://"), "/announce")
	sw := &swarmMaker{t: t, base: site.base, ut: dialTracker(t, "127.0.0.1", udpAt)}

	// A LAN in use: a busy swarm (seeders over HTTP, leechers over UDP), one with
	// a lone seeder, one with a partial seed and leechers, and a scrape.
	sw.http(1, 0, 2)
	sw.udp(1, 3)
	sw.udp(2, 1, 0)
	sw.http(3, 100, 2)
	sw.paused(3)
	scrape(t, r.urls[2], sw.hash(1))
	// The page shows the display from its first frame on: wait for it, so
	// that the page under test, and its picture, always have it.
	waitPanel(t, site.base)
	site.more = func() {
		sw.http(4, 0, 1)
		sw.udp(4, 2)
		sw.udp(1, 1)
	}
	checkStatusPage(t, tab, site)
}

// waitPanel waits until /panel.png answers: the simulated panel has drawn.
func waitPanel(t *testing.T, base string) {
	t.Helper()
	c := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.Get(base + "/panel.png")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("status %d", resp.StatusCode)
		}
		if time.Now().After(deadline) {
			t.Fatalf("/panel.png did not answer within 10 s of start: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusSite is a running status page: its base URL, how often it refreshes, and
// how to make its figures change.
type statusSite struct {
	base    string
	refresh time.Duration
	more    func()
}

// checkStatusPage is the browser's side of the test, against a page at site.base.
func checkStatusPage(t *testing.T, tab context.Context, site statusSite) {
	host := mustParseURL(t, site.base).Host
	requests := recordRequests(t, tab)
	t.Cleanup(func() {
		// What the page looked like when a check failed is the artefact most
		// worth having.
		if t.Failed() {
			if png, err := chromedp.Run(within(tab, 10*time.Second), chromedp.FullScreenshot(100)); err == nil {
				saveScreenshots(t, map[string][]byte{"status-page-failed.png": png})
			}
		}
	})

	begun := time.Now()
	if err := chromedp.Do(within(tab, 15*time.Second), chromedp.Navigate(site.base+"/")); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	// A reload would clear this; the live update below must keep it.
	evaluate[bool](t, tab, `window.swarmlightTestMark = true`)
	compare(t, "loaded page", readFigures(t, tab), fetchStats(t, site.base), time.Since(begun))

	// More announces, and the open page must show them within a few refreshes.
	before := fetchStats(t, site.base)
	site.more()
	want := fetchStats(t, site.base)
	moving := []string{"torrents", "peers", "seeders", "leechers", "announces_total"}
	for _, f := range moving {
		if reflect.DeepEqual(before[f], want[f]) {
			t.Fatalf("%s is %v before and after the second round of announces: the test would prove nothing", f, want[f])
		}
	}
	waited := time.Now()
	deadline := waited.Add(5*site.refresh + 2*time.Second)
	for {
		stale := staleFigures(readFigures(t, tab), want, moving)
		if len(stale) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the open page still shows old figures %s after the announces (web.refresh %s): %s",
				time.Since(waited).Round(time.Second), site.refresh, strings.Join(stale, "; "))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !evaluate[bool](t, tab, `window.swarmlightTestMark === true`) {
		t.Error("the page was reloaded to show new figures; it should update in place")
	}
	compare(t, "page after live update", readFigures(t, tab), fetchStats(t, site.base), time.Since(begun))
	if !slices.ContainsFunc(requests(), func(u string) bool { return strings.HasPrefix(u, site.base+"/stats.json") }) {
		t.Error("the page never asked /stats.json: it cannot be updating live from it")
	}

	waitImages(t, tab)
	shots := map[string][]byte{"status-page.png": screenshot(t, tab, 1280, 900, false)}
	shots["status-page-phone.png"] = screenshot(t, tab, 390, 844, true)
	saveScreenshots(t, shots)
	// A phone zooms out to fit a page wider than itself, or one without a
	// viewport: either way the page is laid out wider than the phone.
	if w := evaluate[int](t, tab, `document.documentElement.scrollWidth`); w > 390 {
		t.Errorf("on a phone 390 px wide the page is laid out %d px wide: too small to read, or it scrolls sideways", w)
	}

	// The same page with scripts off: the server's figures must be right.
	noJS := newTab(t, tab)
	noJSRequests := recordRequests(t, noJS)
	if _, err := chromedp.Call(within(noJS, 5*time.Second), emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatalf("turn JavaScript off: %v", err)
	}
	begun = time.Now()
	if err := chromedp.Do(within(noJS, 15*time.Second), chromedp.Navigate(site.base+"/")); err != nil {
		t.Fatalf("load the page with JavaScript off: %v", err)
	}
	compare(t, "page with JavaScript off", readFigures(t, noJS), fetchStats(t, site.base), time.Since(begun))
	// Long enough for a script, were one running, to poll twice.
	time.Sleep(2 * site.refresh)
	if slices.ContainsFunc(noJSRequests(), func(u string) bool { return strings.Contains(u, "/stats.json") }) {
		t.Error("with JavaScript off the page still asked /stats.json: scripts were not off, and the check above proved nothing")
	}

	for _, u := range append(requests(), noJSRequests()...) {
		if p, err := url.Parse(u); err != nil || !(p.Scheme == "data" || p.Scheme == "about" || p.Scheme == "blob" || p.Scheme == "http" && p.Host == host) {
			t.Errorf("the page asked for %q: everything must come from the box (%s), a LAN may have no internet", u, host)
		}
	}
}

// newBrowser starts headless Chromium, in a profile of its own that the test
// removes, and returns its first tab. Without Chromium it installs Debian's
// package (as root, with apt), or skips, or under CI=true fails.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", "new"),
		// Root has no user namespace sandbox to drop into; the page is our own.
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(acancel)
	tab, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	// The first Run starts the browser and lives as long as its context, so it
	// cannot carry a timeout of its own: a timer stops a start that hangs.
	hung := time.AfterFunc(60*time.Second, acancel)
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	if !hung.Stop() {
		t.Fatalf("%s did not start within 60 s", bin)
	}
	return tab
}

// newTab opens another tab of the same browser.
func newTab(t *testing.T, tab context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(tab)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return ctx
}

// chromium finds Debian's Chromium, installing it when it is missing and we can.
func chromium(t *testing.T) string {
	t.Helper()
	find := func() string {
		for _, name := range []string{"chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := find(); p != "" {
		return p
	}
	why := "chromium is not installed (apt-get install chromium)"
	if _, err := exec.LookPath("apt-get"); err == nil && os.Geteuid() == 0 {
		t.Log("installing chromium with apt-get")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		install := func() ([]byte, error) {
			return exec.CommandContext(ctx, "apt-get", "install", "-y", "--no-install-recommends", "chromium").CombinedOutput()
		}
		out, err := install()
		if err != nil {
			if uout, uerr := exec.CommandContext(ctx, "apt-get", "update").CombinedOutput(); uerr != nil {
				out, err = uout, uerr
			} else {
				out, err = install()
			}
		}
		if p := find(); p != "" {
			return p
		}
		why = fmt.Sprintf("chromium could not be installed: %v: %s", err, lastLines(out, 5))
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI=true makes this a failure", why)
	}
	t.Skip(why)
	return ""
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// within bounds one browser step; the tab itself lives on.
func within(tab context.Context, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(tab, d)
	time.AfterFunc(d, cancel)
	return ctx
}

func evaluate[T any](t *testing.T, tab context.Context, js string, opts ...chromedp.EvaluateOption) T {
	t.Helper()
	v, err := chromedp.Run(within(tab, 10*time.Second), chromedp.Evaluate[T](js, opts...))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// recordRequests returns what the tab has asked for so far, every URL.
func recordRequests(t *testing.T, tab context.Context) func() []string {
	t.Helper()
	var mu sync.Mutex
	var urls []string
	err := chromedp.Listen(tab, func(ev any) {
		if ev, ok := ev.(*network.EventRequestWillBeSent); ok && ev.Request != nil {
			mu.Lock()
			urls = append(urls, ev.Request.URL)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listen to the tab's requests: %v", err)
	}
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(urls)
	}
}

// figure is one [data-stat] element of the page: the /stats.json field it
// shows, its raw JSON value, and its text as a person reads it.
type figure struct {
	Stat  string  `json:"stat"`
	Value *string `json:"value"`
	Text  string  `json:"text"`
}

func readFigures(t *testing.T, tab context.Context) []figure {
	t.Helper()
	return evaluate[[]figure](t, tab, `Array.from(document.querySelectorAll('[data-stat]'), e => ({
		stat: e.getAttribute('data-stat'),
		value: e.hasAttribute('data-value') ? e.getAttribute('data-value') : null,
		text: e.innerText.trim()}))`)
}

func fetchStats(t *testing.T, base string) map[string]any {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(base + "/stats.json")
	if err != nil {
		t.Fatalf("GET /stats.json: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /stats.json: status %d, %v: %.200s", resp.StatusCode, err, body)
	}
	var stats map[string]any
	if err := json.Unmarshal(body, &stats); err != nil {
		t.Fatalf("/stats.json is not a JSON object: %v: %.200s", err, body)
	}
	return stats
}

// Fields that move by themselves between the page's figures and /stats.json:
// uptime (checked to within the time the check took), the announce rate and its
// history (sampled as time passes), and the memory held, which counts the Go
// heap's objects: here the test's own, garbage collected at any moment (the
// last three checked for shape only).
var (
	selfMoving = map[string]bool{"uptime_seconds": true, "announces_per_second": true,
		"history_announces_per_second": true, "memory_bytes": true}
	// Figures whose text is not their plain count: a duration, a rate, a size.
	notCounts = map[string]bool{"uptime_seconds": true, "announces_per_second": true,
		"memory_bytes": true, "memory_budget_bytes": true}
)

// compare checks every figure on the page against /stats.json, and that every
// figure of /stats.json is on the page; elapsed is how long ago the page was
// asked for, the slack uptime may have.
func compare(t *testing.T, what string, figs []figure, stats map[string]any, elapsed time.Duration) {
	t.Helper()
	if len(figs) == 0 {
		t.Fatalf("%s: no [data-stat] element at all", what)
	}
	shown := map[string]bool{}
	for _, f := range figs {
		shown[f.Stat] = true
		want, ok := lookup(stats, f.Stat)
		if !ok {
			t.Errorf("%s: data-stat=%q is not a field of /stats.json", what, f.Stat)
			continue
		}
		if f.Value == nil {
			t.Errorf("%s: data-stat=%q has no data-value", what, f.Stat)
			continue
		}
		var got any
		if err := json.Unmarshal([]byte(*f.Value), &got); err != nil {
			t.Errorf("%s: data-stat=%q: data-value %q is not JSON: %v", what, f.Stat, *f.Value, err)
			continue
		}
		if err := agrees(f.Stat, got, want, elapsed); err != nil {
			t.Errorf("%s: %s: %v", what, f.Stat, err)
		}
		if err := readsAs(f.Stat, f.Text, want); err != nil {
			t.Errorf("%s: %s: %v", what, f.Stat, err)
		}
	}
	for _, leaf := range leaves(stats, "") {
		covered := shown[leaf]
		if i := strings.IndexByte(leaf, '.'); i > 0 && shown[leaf[:i]] {
			covered = true
		}
		if !covered {
			t.Errorf("%s: /stats.json's %s is not on the page (no data-stat=%q)", what, leaf, leaf)
		}
	}
}

// lookup finds a field by its JSON name, a dot naming a field of an object:
// "udp.packets".
func lookup(stats map[string]any, path string) (any, bool) {
	var v any = stats
	for name := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[name]; !ok {
			return nil, false
		}
	}
	return v, true
}

func leaves(v map[string]any, prefix string) []string {
	var out []string
	for k, sub := range v {
		if m, ok := sub.(map[string]any); ok {
			out = append(out, leaves(m, prefix+k+".")...)
			continue
		}
		out = append(out, prefix+k)
	}
	slices.Sort(out)
	return out
}

// agrees says whether the page's raw value is /stats.json's, allowing the
// fields that move by themselves their motion.
func agrees(stat string, got, want any, elapsed time.Duration) error {
	if !selfMoving[stat] {
		if !reflect.DeepEqual(got, want) {
			return fmt.Errorf("page has %v, /stats.json %v", got, want)
		}
		return nil
	}
	switch stat {
	case "uptime_seconds":
		g, gok := got.(float64)
		w, wok := want.(float64)
		if !gok || !wok || g > w || w-g > elapsed.Seconds()+2 {
			return fmt.Errorf("page has %v, /stats.json %v, %s later", got, want, elapsed.Round(time.Millisecond))
		}
	case "memory_bytes":
		if g, ok := got.(float64); !ok || g <= 0 {
			return fmt.Errorf("page has %v, want a size", got)
		}
	case "announces_per_second":
		if g, ok := got.(float64); !ok || g < 0 {
			return fmt.Errorf("page has %v, want a rate", got)
		}
	case "history_announces_per_second":
		g, ok := got.([]any)
		if !ok || len(g) > 360 {
			return fmt.Errorf("page has %v, want at most 360 samples", got)
		}
		for _, x := range g {
			if r, ok := x.(float64); !ok || r < 0 {
				return fmt.Errorf("page has sample %v, want a rate", x)
			}
		}
	}
	return nil
}

// readsAs checks that the text a person reads says the figure: a count in its
// digits (the page may group them, "1,234"), a word or a URL as itself.
func readsAs(stat, text string, want any) error {
	switch w := want.(type) {
	case float64:
		if notCounts[stat] || w != float64(int64(w)) {
			if text == "" {
				return fmt.Errorf("no text for %v", w)
			}
			return nil
		}
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, text)
		if digits != strconv.FormatInt(int64(w), 10) {
			return fmt.Errorf("reads %q, want %d", text, int64(w))
		}
	case string:
		if !strings.Contains(text, w) {
			return fmt.Errorf("reads %q, want %q in it", text, w)
		}
	case []any:
		if stat == "history_announces_per_second" {
			return nil
		}
		for _, x := range w {
			if s, ok := x.(string); ok && !strings.Contains(text, s) {
				return fmt.Errorf("reads %q, want %q in it", text, s)
			}
		}
	}
	return nil
}

// staleFigures lists the fields whose figures on the page are not yet want's.
func staleFigures(figs []figure, want map[string]any, fields []string) []string {
	var stale []string
	for _, name := range fields {
		seen := false
		for _, f := range figs {
			if f.Stat != name {
				continue
			}
			seen = true
			var got any
			if f.Value == nil || json.Unmarshal([]byte(*f.Value), &got) != nil || !reflect.DeepEqual(got, want[name]) ||
				readsAs(name, f.Text, want[name]) != nil {
				stale = append(stale, fmt.Sprintf("%s shows %q (data-value %v), want %v", name, f.Text, deref(f.Value), want[name]))
			}
		}
		if !seen {
			stale = append(stale, name+" is not on the page")
		}
	}
	return stale
}

func deref(s *string) string {
	if s == nil {
		return "none"
	}
	return *s
}

// waitImages waits until every image on the page (the panel, the QR codes) has
// loaded, so that a broken one fails here and the screenshot shows them all.
func waitImages(t *testing.T, tab context.Context) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		broken := evaluate[[]string](t, tab, `Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.getAttribute('src').slice(0, 60))`)
		if len(broken) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("images not shown within 10 s: %q", broken)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// screenshot renders the whole page width px wide, as a phone when mobile.
func screenshot(t *testing.T, tab context.Context, width, height int64, mobile bool) []byte {
	t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulatePortrait)
	}
	if err := chromedp.Do(within(tab, 10*time.Second), chromedp.EmulateViewport(width, height, opts...)); err != nil {
		t.Fatalf("set the viewport to %d×%d: %v", width, height, err)
	}
	// Let the page lay itself out for the new width before the picture.
	evaluate[bool](t, tab, `new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))`, chromedp.EvalAwaitPromise)
	png, err := chromedp.Run(within(tab, 20*time.Second), chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %d px wide: %v", width, err)
	}
	return png
}

// saveScreenshots keeps the screenshots where a person or CI finds them
// ($SWARMLIGHT_ARTIFACTS, else bin/test-artifacts), and with UPDATE_SCREENSHOT=1
// also as the README's pictures in docs/.
func saveScreenshots(t *testing.T, shots map[string][]byte) {
	t.Helper()
	dirs := []string{os.Getenv("SWARMLIGHT_ARTIFACTS")}
	if dirs[0] == "" {
		dirs[0] = filepath.Join("..", "bin", "test-artifacts")
	}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		dirs = append(dirs, filepath.Join("..", "docs"))
	}
	for _, dir := range dirs {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Errorf("screenshots: %v", err)
			continue
		}
		for name, png := range shots {
			path, err := filepath.Abs(filepath.Join(dir, name))
			if err == nil {
				err = os.WriteFile(path, png, 0o644)
			}
			if err != nil {
				t.Errorf("screenshots: %v", err)
				continue
			}
			t.Logf("screenshot: %s", path)
		}
	}
}

func mustParseURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// swarmMaker announces peers of a few torrents, each peer its own port.
type swarmMaker struct {
	t    *testing.T
	base string
	ut   *udpTracker
	port int
}

func (s *swarmMaker) hash(n int) infohash.T {
	return infohash.T{'b', 'r', 'o', 'w', 's', 'e', 'r', byte(n)}
}

func (s *swarmMaker) nextPort() uint16 {
	s.port++
	return uint16(41000 + s.port)
}

// http announces peers of torrent n over HTTP, each with left bytes to go.
func (s *swarmMaker) http(n int, left int64, peers int) {
	s.t.Helper()
	for range peers {
		p := s.nextPort()
		h := s.hash(n)
		get(s.t, "127.0.0.1", s.base+"/announce?"+query(string(h[:]), fmt.Sprintf("-BT0001-%012d", p), strconv.Itoa(int(p)),
			"left="+strconv.FormatInt(left, 10), "event=started"))
	}
}

// paused announces a partial seed of torrent n (BEP 21).
func (s *swarmMaker) paused(n int) {
	s.t.Helper()
	p := s.nextPort()
	h := s.hash(n)
	get(s.t, "127.0.0.1", s.base+"/announce?"+query(string(h[:]), fmt.Sprintf("-BT0001-%012d", p), strconv.Itoa(int(p)),
		"left=100", "event=paused"))
}

// udp announces peers of torrent n over UDP: leechers, or seeders with a
// trailing 0 for left.
func (s *swarmMaker) udp(n int, peers int, left ...int64) {
	s.t.Helper()
	l := int64(1 << 20)
	if len(left) > 0 {
		l = left[0]
	}
	for range peers {
		if _, err := s.ut.announce(s.hash(n), s.nextPort(), l); err != nil {
			s.t.Fatalf("UDP announce: %v", err)
		}
	}
}
