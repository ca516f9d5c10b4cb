package appliance_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	anacrolix "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
)

// defaultConfig is the configuration a fresh install runs with.
func defaultConfig(t *testing.T) config.Config {
	t.Helper()
	cfg, err := config.Load(config.Options{SearchPaths: []string{t.TempDir()}, Env: []string{}})
	if err != nil {
		t.Fatalf("default config: %v", err)
	}
	// Tests use ephemeral loopback ports only; each test names what it listens on.
	cfg.HTTP.Listen, cfg.UDP.Listen = nil, nil
	return cfg
}

// lineWriter collects output and hands each complete line to a channel, so a test can
// wait for Run to print its announce URLs.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func newLineWriter() *lineWriter { return &lineWriter{lines: make(chan string, 64)} }

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		select {
		case w.lines <- strings.TrimSpace(line):
		default:
		}
	}
}

type running struct {
	urls []string
	logs *privacytest.Output
	stop func() error
}

// startOpts are the optional parts of a start.
type startOpts struct {
	hangup chan os.Signal
	reload func() (config.Config, error)
	level  *slog.LevelVar
	// version is the build's version, as main passes it.
	version string
}

// start runs the real appliance and returns its announce URLs once it prints them.
func start(t *testing.T, cfg config.Config, with ...startOpts) *running {
	t.Helper()
	var opts startOpts
	if len(with) > 0 {
		opts = with[0]
	}
	var level slog.Leveler = slog.LevelDebug
	if opts.level != nil {
		level = opts.level
	}
	logs := &privacytest.Output{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level}))
	out := newLineWriter()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- appliance.Run(ctx, cfg, logger, appliance.Options{Stdout: out, Hangup: opts.hangup, Reload: opts.reload, Level: opts.level, Version: opts.version})
	}()
	r := &running{logs: logs}
	var once sync.Once
	var stopErr error
	r.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(5 * time.Second):
				stopErr = errors.New("Run did not return within 5 s of being stopped")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = r.stop() })
	deadline := time.After(10 * time.Second)
	for len(r.urls) < len(cfg.HTTP.Listen)+len(cfg.UDP.Listen) {
		select {
		case l := <-out.lines:
			if strings.HasSuffix(l, "/announce") {
				r.urls = append(r.urls, l)
			}
		case err := <-done:
			t.Fatalf("Run returned before serving: %v", err)
		case <-deadline:
			t.Fatalf("no announce URLs printed within 10 s; got %v", r.urls)
		}
	}
	return r
}

func loopbackConfig(t *testing.T) config.Config {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0", "[::1]:0"}
	cfg.UDP.Listen = []string{"127.0.0.1:0", "[::1]:0"}
	return cfg
}

// TestEndToEnd drives the real tracker with the anacrolix tracker client over IPv4 and
// IPv6 loopback: two peers find each other and the scrape counts match.
func TestEndToEnd(t *testing.T) {
	r := start(t, loopbackConfig(t))
	if len(r.urls) != 4 || !strings.HasPrefix(r.urls[0], "http://127.0.0.1:") || !strings.HasPrefix(r.urls[1], "http://[::1]:") ||
		!strings.HasPrefix(r.urls[2], "udp://127.0.0.1:") || !strings.HasPrefix(r.urls[3], "udp://[::1]:") {
		t.Fatalf("announce URLs %v, want HTTP and UDP on 127.0.0.1 and [::1]", r.urls)
	}
	url4, url6 := r.urls[0], r.urls[1]
	ih := infohash.T{0xde, 0xad, 0xbe, 0xef, 1, 2, 3}
	seeder := anacrolix.AnnounceRequest{InfoHash: ih, PeerId: [20]byte{'-', 'S', 'E', 'E', 'D'}, Port: 51001, Left: 0, Event: anacrolix.Started, NumWant: -1}
	leecher := anacrolix.AnnounceRequest{InfoHash: ih, PeerId: [20]byte{'-', 'L', 'E', 'E', 'C'}, Port: 51002, Left: 1 << 20, Event: anacrolix.Started, NumWant: -1}

	res, err := announce(url4, seeder)
	if err != nil {
		t.Fatalf("seeder announce over IPv4: %v", err)
	}
	if len(res.Peers) != 0 || res.Seeders != 1 || res.Leechers != 0 {
		t.Errorf("first announce: %+v, want only itself counted", res)
	}
	if res.Interval < 1620 || res.Interval > 1980 {
		t.Errorf("interval %d s, want 1800 ±10%%", res.Interval)
	}
	res, err = announce(url6, leecher)
	if err != nil {
		t.Fatalf("leecher announce over IPv6: %v", err)
	}
	if !hasPeer(res.Peers, "127.0.0.1", 51001) || res.Seeders != 1 || res.Leechers != 1 {
		t.Errorf("leecher got %+v, want the seeder at 127.0.0.1:51001", res)
	}
	// The seeder learns of the IPv6 leecher from the same swarm.
	seeder.Event = anacrolix.None
	res, err = announce(url4, seeder)
	if err != nil || !hasPeer(res.Peers, "::1", 51002) {
		t.Errorf("seeder got %+v (err %v), want the leecher at [::1]:51002", res, err)
	}

	// The leecher completes; scrape through the client and count.
	leecher.Event, leecher.Left = anacrolix.Completed, 0
	if _, err := announce(url6, leecher); err != nil {
		t.Fatal(err)
	}
	sc := scrape(t, url4, ih)
	if sc.Seeders != 2 || sc.Leechers != 0 || sc.Completed != 1 {
		t.Errorf("scrape %+v, want 2 seeders, 0 leechers, 1 completed", sc)
	}
	seeder.Event = anacrolix.Stopped
	if _, err := announce(url4, seeder); err != nil {
		t.Fatal(err)
	}
	if sc := scrape(t, url6, ih); sc.Seeders != 1 {
		t.Errorf("after stop: scrape %+v, want 1 seeder", sc)
	}
	if err := r.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
}

// TestSnatchesOutliveSwarm: three clients complete a torrent and leave gracefully;
// a scrape straight after, over either front, still counts their downloads.
func TestSnatchesOutliveSwarm(t *testing.T) {
	r := start(t, loopbackConfig(t))
	for i, u := range r.urls {
		ih := infohash.T{0x5a, byte(i)}
		for c := range 3 {
			req := anacrolix.AnnounceRequest{InfoHash: ih, PeerId: [20]byte{'-', 'S', 'N', byte('0' + c)}, Port: uint16(52000 + c), Left: 1 << 20, Event: anacrolix.Started, NumWant: -1}
			for _, step := range []struct {
				ev   anacrolix.AnnounceEvent
				left int64
			}{{anacrolix.Started, 1 << 20}, {anacrolix.Completed, 0}, {anacrolix.Stopped, 0}} {
				req.Event, req.Left = step.ev, step.left
				if _, err := announce(u, req); err != nil {
					t.Fatalf("%s: client %d, %v: %v", u, c, step.ev, err)
				}
			}
		}
		for _, via := range r.urls {
			if sc := scrape(t, via, ih); sc.Seeders != 0 || sc.Leechers != 0 || sc.Completed != 3 {
				t.Errorf("swarm emptied over %s, scraped over %s: %+v, want 3 completed and nobody left", u, via, sc)
			}
		}
	}
}

// TestFrontsShareSwarms: a peer announced over UDP is handed to an HTTP client and
// the other way round, over both address families, through the real anacrolix client.
func TestFrontsShareSwarms(t *testing.T) {
	r := start(t, loopbackConfig(t))
	http4, http6, udp4, udp6 := r.urls[0], r.urls[1], r.urls[2], r.urls[3]
	ih := infohash.T{0x5a, 0x5a}
	peer := func(port uint16, left int64) anacrolix.AnnounceRequest {
		return anacrolix.AnnounceRequest{InfoHash: ih, PeerId: [20]byte{byte(port)}, Port: port, Left: left, Event: anacrolix.Started, NumWant: -1}
	}
	steps := []struct {
		url  string
		req  anacrolix.AnnounceRequest
		want []string // peers this announce must be given, as ip:port
	}{
		{udp4, peer(52001, 0), nil},
		{http4, peer(52002, 9), []string{"127.0.0.1:52001"}},
		{udp6, peer(52003, 9), nil}, // an IPv6 UDP reply carries IPv6 peers only: none yet
		{http6, peer(52004, 9), []string{"127.0.0.1:52001", "127.0.0.1:52002", "[::1]:52003"}},
		{udp6, peer(52003, 9), []string{"[::1]:52004"}},
		{udp4, peer(52001, 0), []string{"127.0.0.1:52002"}}, // a seeder gets leechers of its family
	}
	for i, st := range steps {
		res, err := announce(st.url, st.req)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, st.url, err)
		}
		got := map[string]bool{}
		for _, p := range res.Peers {
			got[net.JoinHostPort(p.IP.String(), fmt.Sprint(p.Port))] = true
		}
		for _, w := range st.want {
			if !got[w] {
				t.Errorf("step %d (%s): peers %v lack %s", i, st.url, res.Peers, w)
			}
		}
		if len(got) != len(st.want) {
			t.Errorf("step %d (%s): peers %v, want exactly %v", i, st.url, res.Peers, st.want)
		}
	}
}

func announce(u string, req anacrolix.AnnounceRequest) (anacrolix.AnnounceResponse, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return anacrolix.Announce{TrackerUrl: u, Request: req, Context: ctx, Slogger: slog.New(slog.DiscardHandler)}.Do()
}

func scrape(t *testing.T, u string, ih infohash.T) (out struct{ Seeders, Leechers, Completed int32 }) {
	t.Helper()
	cl, err := anacrolix.NewClient(u, anacrolix.NewClientOpts{Slogger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := cl.Scrape(ctx, []infohash.T{ih})
	if err != nil || len(res) != 1 {
		t.Fatalf("scrape: %v %v", res, err)
	}
	out.Seeders, out.Leechers, out.Completed = res[0].Seeders, res[0].Leechers, res[0].Completed
	return out
}

func hasPeer(ps []anacrolix.Peer, ip string, port int) bool {
	for _, p := range ps {
		if p.IP.Equal(net.ParseIP(ip)) && p.Port == port {
			return true
		}
	}
	return false
}

// rawReply is the announce reply as the wire carries it.
type rawReply struct {
	FailureReason string `bencode:"failure reason"`
	RetryIn       any    `bencode:"retry in"`
	Interval      int    `bencode:"interval"`
	MinInterval   int    `bencode:"min interval"`
	Complete      int    `bencode:"complete"`
	Incomplete    int    `bencode:"incomplete"`
	Downloaded    int    `bencode:"downloaded"`
	Peers         []byte `bencode:"peers"`
	Peers6        []byte `bencode:"peers6"`
	ExternalIP    []byte `bencode:"external ip"`
}

// get sends a raw HTTP GET from the given local address and decodes the bencoded reply.
func get(t *testing.T, from string, u string) rawReply {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if from != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/plain" {
		t.Fatalf("status %d, content type %q, want 200 text/plain", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var rr rawReply
	if err := bencode.Unmarshal(body, &rr); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	return rr
}

func query(hash, peerID string, port string, extra ...string) string {
	q := "info_hash=" + url.QueryEscape(hash) + "&peer_id=" + url.QueryEscape(peerID) + "&port=" + port + "&uploaded=0&downloaded=0"
	for _, e := range extra {
		q += "&" + e
	}
	return q
}

// TestRawHTTP checks the reply fields byte by byte, the way a client's parser sees them.
func TestRawHTTP(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	r := start(t, cfg)
	base := r.urls[0]
	hash := "abcdefghij0123456789"
	a := get(t, "127.0.0.2", base+"?"+query(hash, "-AA0001-000000000001", "6881", "left=0", "event=started", "compact=1"))
	if a.FailureReason != "" {
		t.Fatalf("failure: %s", a.FailureReason)
	}
	b := get(t, "127.0.0.3", base+"?"+query(hash, "-BB0001-000000000002", "6882", "left=10", "compact=0", "numwant=10"))
	if b.Complete != 1 || b.Incomplete != 1 || b.MinInterval != 900 || len(b.Peers6) != 0 {
		t.Errorf("reply %+v", b)
	}
	if !bytes.Equal(b.Peers, []byte{127, 0, 0, 2, 0x1a, 0xe1}) {
		t.Errorf("peers %v, want 127.0.0.2:6881 compact", b.Peers)
	}
	if !bytes.Equal(b.ExternalIP, []byte{127, 0, 0, 3}) {
		t.Errorf("external ip %v, want 127.0.0.3", b.ExternalIP)
	}
	// A paused partial seed counts as incomplete; scrape says it is no downloader.
	get(t, "127.0.0.4", base+"?"+query(hash, "-CC0001-000000000003", "6883", "left=5", "event=paused"))
	scrapeURL := strings.TrimSuffix(base, "announce") + "scrape?info_hash=" + url.QueryEscape(hash) + "&info_hash=" + url.QueryEscape("00000000000000000000")
	resp, err := http.Get(scrapeURL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var sc struct {
		Files map[string]struct {
			Complete    int `bencode:"complete"`
			Incomplete  int `bencode:"incomplete"`
			Downloaded  int `bencode:"downloaded"`
			Downloaders int `bencode:"downloaders"`
		} `bencode:"files"`
	}
	if err := bencode.Unmarshal(body, &sc); err != nil {
		t.Fatalf("scrape reply %q: %v", body, err)
	}
	if f := sc.Files[hash]; f.Complete != 1 || f.Incomplete != 2 || f.Downloaders != 1 {
		t.Errorf("scrape %+v, want complete 1, incomplete 2, downloaders 1", sc.Files)
	}

	for _, tc := range []struct{ name, q, want string }{
		{"missing info_hash", "peer_id=-AA0001-000000000001&port=1&left=0", "info_hash"},
		{"short peer_id", query(hash, "short", "6881", "left=0"), "peer_id"},
		{"zero port", query(hash, "-AA0001-000000000001", "0", "left=0"), "port"},
		{"negative left", query(hash, "-AA0001-000000000001", "6881", "left=-1"), "left"},
		{"full scrape disabled", "", ""},
	} {
		u := base + "?" + tc.q
		if tc.name == "full scrape disabled" {
			u = strings.TrimSuffix(base, "announce") + "scrape"
		}
		rr := get(t, "", u)
		if rr.FailureReason == "" || !strings.Contains(rr.FailureReason, tc.want) {
			t.Errorf("%s: failure reason %q, want one naming %q", tc.name, rr.FailureReason, tc.want)
		}
	}
}

// TestAllowedNetworks: a client outside the allowed networks gets a failure reason
// and is not stored.
func TestAllowedNetworks(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.Tracker.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	r := start(t, cfg)
	hash := "abcdefghij0123456789"
	if rr := get(t, "127.0.0.3", r.urls[0]+"?"+query(hash, "-AA0001-000000000001", "6881", "left=0")); !strings.Contains(rr.FailureReason, "not allowed") || rr.RetryIn != "never" {
		t.Errorf("outsider got %+v, want a 'not allowed' failure with retry in never", rr)
	}
	rr := get(t, "127.0.0.2", r.urls[0]+"?"+query(hash, "-BB0001-000000000002", "6882", "left=1"))
	if rr.FailureReason != "" || rr.Complete != 0 || len(rr.Peers) != 0 {
		t.Errorf("insider got %+v, want an empty swarm", rr)
	}
}

// TestListenInUse: an address already taken is a configuration error naming the key.
func TestListenInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0", l.Addr().String()}
	err = appliance.Run(context.Background(), cfg, slog.New(slog.DiscardHandler), appliance.Options{})
	var ke *config.KeyError
	if !errors.As(err, &ke) || ke.Key != "http.listen" || !strings.Contains(ke.Problem, "in use") {
		t.Errorf("err %v, want a config error naming http.listen and 'in use'", err)
	}
}

// TestShutdownUnderLoad stops the tracker while clients are announcing: every reply
// that was started is delivered whole (in-flight requests finish), Run returns nil
// within 5 s, and afterwards nothing is accepted.
func TestShutdownUnderLoad(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	r := start(t, cfg)
	u := r.urls[0] + "?" + query("abcdefghij0123456789", "-AA0001-000000000001", "6881", "left=0")
	const workers, perWorker = 4, 400
	var ok sync.WaitGroup
	var mu sync.Mutex
	var replies, refused int
	started := make(chan struct{}, workers*perWorker)
	for range workers {
		ok.Add(1)
		go func() {
			defer ok.Done()
			c := &http.Client{Timeout: 5 * time.Second}
			for range perWorker {
				resp, err := c.Get(u)
				if err != nil {
					mu.Lock()
					refused++
					mu.Unlock()
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				var rr rawReply
				if err != nil || bencode.Unmarshal(body, &rr) != nil || rr.Interval == 0 {
					t.Errorf("a reply was cut off or garbled by the stop: %q, %v", body, err)
				}
				mu.Lock()
				replies++
				mu.Unlock()
				select {
				case started <- struct{}{}:
				default:
				}
			}
		}()
	}
	for range 50 { // stop in the middle of the load
		<-started
	}
	if err := r.stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	ok.Wait()
	if replies < 50 {
		t.Errorf("only %d replies before the stop", replies)
	}
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(strings.TrimSuffix(r.urls[0], "/announce"), "http://"), time.Second); err == nil {
		t.Errorf("still accepting connections after Run returned")
	}
	t.Logf("%d replies whole, %d requests refused after the stop", replies, refused)
}
