package metrics_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/swarmlight/swarmlight/appliance/httptracker"
	"github.com/swarmlight/swarmlight/appliance/metrics"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/appliance/udptracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// box is a tracker with both fronts on loopback sockets, and its metrics
// served from a third.
type box struct {
	httpAddr, udpAddr, metricsURL string
}

func newBox(t *testing.T) *box {
	t.Helper()
	store := swarm.New(swarm.Opts{PeerTimeout: time.Hour, MaxTorrents: 3}, clock.Real{})
	t.Cleanup(store.Close)
	trk := tracker.New(tracker.Config{Interval: 30 * time.Minute, MinInterval: 15 * time.Minute, NumWantDefault: 50, NumWantMax: 200,
		ScrapeMax: 74, AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}, store, nil)
	log := slog.New(slog.DiscardHandler)

	hs := httptracker.New(httptracker.Config{ReadHeaderTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second,
		MaxHeaderBytes: 4096, ScrapeMax: 74}, trk, log)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = hs.Serve(hl) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})

	us, err := udptracker.New(udptracker.Config{NumWantDefault: 50, ScrapeMax: 74}, trk, log, clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	ul, err := udptracker.Listen("127.0.0.1:0", udptracker.ListenConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() { defer close(served); _ = us.Serve(ul) }()
	t.Cleanup(func() { ul.Close(); <-served })

	start := time.Now()
	ms := httptest.NewServer(metrics.Handler(func() metrics.Figures {
		st := trk.Stats()
		return metrics.Figures{Uptime: time.Since(start), Tracker: st, HTTP: hs.Stats(), UDP: us.Stats(),
			HTTPRequests: hs.Requests(), UDPRequests: us.Requests(), Memory: st.Swarm.Memory, MemoryBudget: st.Swarm.MemoryBudget}
	}))
	t.Cleanup(ms.Close)
	return &box{httpAddr: hl.Addr().String(), udpAddr: ul.Addr().String(), metricsURL: ms.URL + "/metrics"}
}

// peer is one client's identity: what must never show in the metrics.
type peer struct {
	src    string // 127.0.0.x
	port   uint16
	hash   string
	peerID string
}

func (p peer) secrets() []string {
	s := append(privacytest.Encodings([]byte(p.hash)), privacytest.Encodings([]byte(p.peerID))...)
	s = append(s, p.src, p.peerID)
	s = append(s, privacytest.AddrPort(netip.AddrPortFrom(netip.MustParseAddr(p.src), p.port+1))...)
	return append(s, privacytest.AddrPort(netip.AddrPortFrom(netip.MustParseAddr(p.src), p.port))...)
}

func (p peer) announceHTTP(t *testing.T, b *box, left int) string {
	t.Helper()
	q := url.Values{"info_hash": {p.hash}, "peer_id": {p.peerID}, "port": {fmt.Sprint(p.port)},
		"uploaded": {"0"}, "downloaded": {"0"}, "left": {fmt.Sprint(left)}, "compact": {"1"}}
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(p.src)}}).DialContext}}
	resp, err := c.Get("http://" + b.httpAddr + "/announce?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// announceUDP connects and announces over UDP as a client does (BEP 15), then
// sends the announce once more with a forged connection id, which is refused.
func (p peer) announceUDP(t *testing.T, b *box) {
	t.Helper()
	c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(p.src)}, net.UDPAddrFromAddrPort(netip.MustParseAddrPort(b.udpAddr)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	ask := func(pkt []byte) []byte {
		if _, err := c.Write(pkt); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		n, err := c.Read(buf)
		if err != nil {
			t.Fatalf("no UDP reply: %v", err)
		}
		return buf[:n]
	}
	connect := binary.BigEndian.AppendUint64(nil, 0x41727101980)
	connect = binary.BigEndian.AppendUint64(connect, 7) // action 0, transaction 7
	id := ask(connect)[8:16]
	a := append([]byte(nil), id...)
	a = binary.BigEndian.AppendUint64(a, 1<<32|8) // action 1, transaction 8
	a = append(a, p.hash...)
	a = append(a, p.peerID...)
	a = binary.BigEndian.AppendUint64(a, 0)
	a = binary.BigEndian.AppendUint64(a, 1) // left
	a = binary.BigEndian.AppendUint64(a, 0)
	a = binary.BigEndian.AppendUint32(a, 2)          // started
	a = binary.BigEndian.AppendUint32(a, 0)          // ip
	a = binary.BigEndian.AppendUint32(a, 0x5ec7e7)   // key
	a = binary.BigEndian.AppendUint32(a, 0xffffffff) // num_want -1
	a = binary.BigEndian.AppendUint16(a, p.port+1)   // another peer than the HTTP one
	if r := ask(a); binary.BigEndian.Uint32(r) != 1 {
		t.Fatalf("UDP announce failed: %q", r[8:])
	}
	a[3] ^= 0xff
	if r := ask(a); binary.BigEndian.Uint32(r) != 3 {
		t.Fatalf("forged connection id answered %x", r)
	}
}

// scrape fetches and parses the metrics with Prometheus's own parser, after
// checking the headers a scraper and the privacy promise need.
func scrape(t *testing.T, b *box) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get(b.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for h, want := range map[string]string{
		"Content-Type":  "text/plain; version=0.0.4; charset=utf-8",
		"Cache-Control": "no-store",
	} {
		if got := resp.Header.Get(h); resp.StatusCode != 200 || got != want {
			t.Fatalf("%d, %s: %q, want %q", resp.StatusCode, h, got, want)
		}
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("not the Prometheus text format: %v\n%s", err, body)
	}
	return fams, string(body)
}

// value is the one series of family name whose labels are those given
// ("k=v" each), or fails.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no %s", name)
	}
	for _, m := range f.Metric {
		if slices.Equal(labelsOf(m), labels) {
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no %s%v", name, labels)
	return 0
}

// labelsOf is m's labels as "name=value", sorted.
func labelsOf(m *dto.Metric) []string {
	var ls []string
	for _, l := range m.Label {
		ls = append(ls, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(ls)
	return ls
}

// The metrics are what Prometheus expects: each family with its type and its
// fixed label sets, the Go runtime's and the process's among them.
func TestFamilies(t *testing.T) {
	fams, _ := scrape(t, newBox(t))
	var reqLabels, capLabels [][]string
	for _, p := range []struct {
		proto   string
		actions []string
	}{{"http", []string{"announce", "scrape"}}, {"udp", []string{"connect", "announce", "scrape"}}} {
		for _, a := range p.actions {
			for _, r := range []string{"ok", "refused", "error"} {
				reqLabels = append(reqLabels, []string{"action=" + a, "proto=" + p.proto, "result=" + r})
			}
		}
	}
	for _, c := range []string{"torrents", "peers", "swarm", "memory", "source_torrents", "source_peers", "http_connections", "http_source"} {
		capLabels = append(capLabels, []string{"cap=" + c})
	}
	none := [][]string{nil}
	for _, tc := range []struct {
		name   string
		typ    dto.MetricType
		labels [][]string // every series' labels, sorted by name; nil: any
	}{
		{"swarmlight_torrents", dto.MetricType_GAUGE, none},
		{"swarmlight_active_swarms", dto.MetricType_GAUGE, none},
		{"swarmlight_peers", dto.MetricType_GAUGE, [][]string{
			{"family=ipv4", "status=leecher"}, {"family=ipv4", "status=partial"}, {"family=ipv4", "status=seeder"},
			{"family=ipv6", "status=leecher"}, {"family=ipv6", "status=partial"}, {"family=ipv6", "status=seeder"}}},
		{"swarmlight_requests_total", dto.MetricType_COUNTER, reqLabels},
		{"swarmlight_request_duration_seconds", dto.MetricType_HISTOGRAM, [][]string{{"proto=http"}, {"proto=udp"}}},
		{"swarmlight_cap_refusals_total", dto.MetricType_COUNTER, capLabels},
		{"swarmlight_memory_bytes", dto.MetricType_GAUGE, none},
		{"swarmlight_memory_budget_bytes", dto.MetricType_GAUGE, none},
		{"swarmlight_uptime_seconds", dto.MetricType_GAUGE, none},
		{"swarmlight_http_connections", dto.MetricType_GAUGE, none},
		{"swarmlight_udp_packets_total", dto.MetricType_COUNTER, none},
		{"swarmlight_udp_dropped_total", dto.MetricType_COUNTER, none},
		{"go_goroutines", dto.MetricType_GAUGE, none},
		{"go_memstats_heap_inuse_bytes", dto.MetricType_GAUGE, none},
		{"process_cpu_seconds_total", dto.MetricType_COUNTER, none},
		{"process_resident_memory_bytes", dto.MetricType_GAUGE, none},
	} {
		f := fams[tc.name]
		if f == nil {
			t.Errorf("no %s", tc.name)
			continue
		}
		if f.GetType() != tc.typ {
			t.Errorf("%s is a %v, want %v", tc.name, f.GetType(), tc.typ)
		}
		var got [][]string
		for _, m := range f.Metric {
			got = append(got, labelsOf(m))
		}
		slices.SortFunc(got, func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
		slices.SortFunc(tc.labels, func(a, b []string) int { return strings.Compare(strings.Join(a, ","), strings.Join(b, ",")) })
		if !slices.EqualFunc(got, tc.labels, slices.Equal) {
			t.Errorf("%s series %v, want %v", tc.name, got, tc.labels)
		}
	}
	if h := fams["swarmlight_request_duration_seconds"].Metric[0].Histogram; len(h.Bucket) < 10 {
		t.Errorf("request duration histogram has %d buckets", len(h.Bucket))
	}
}

// Announces over real sockets move the counters and gauges by what they did;
// more torrents and peers add no series (none is per torrent or per peer), and
// no label value, nor anything else served, holds a peer's address, port,
// peer id or an info-hash.
func TestAnnouncesMoveTheMetrics(t *testing.T) {
	b := newBox(t)
	before, _ := scrape(t, b)
	var peers []peer
	for i := range 4 {
		p := peer{src: fmt.Sprintf("127.0.0.%d", 31+i), port: uint16(47311 + i),
			hash: fmt.Sprintf("\x01\xfe-metricshash-%d\xab\xcd\xef\x7f", i), peerID: fmt.Sprintf("-MT0001-%012d", 55443322+i)}
		peers = append(peers, p)
	}
	// Three torrents fill the store (swarm.max_torrents 3): the fourth is refused
	// at the cap.
	for i, p := range peers[:3] {
		if body := p.announceHTTP(t, b, i%2); strings.Contains(body, "failure reason") {
			t.Fatalf("announce refused: %s", body)
		}
	}
	if body := peers[3].announceHTTP(t, b, 0); !strings.Contains(body, "too many torrents") {
		t.Fatalf("fourth torrent not refused at the cap: %s", body)
	}
	peers[0].announceUDP(t, b)
	after, body := scrape(t, b)

	for _, tc := range []struct {
		name   string
		labels []string
		moved  float64
	}{
		{"swarmlight_requests_total", []string{"action=announce", "proto=http", "result=ok"}, 3},
		{"swarmlight_requests_total", []string{"action=announce", "proto=http", "result=refused"}, 1},
		{"swarmlight_requests_total", []string{"action=connect", "proto=udp", "result=ok"}, 1},
		{"swarmlight_requests_total", []string{"action=announce", "proto=udp", "result=ok"}, 1},
		{"swarmlight_requests_total", []string{"action=announce", "proto=udp", "result=refused"}, 1},
		{"swarmlight_requests_total", []string{"action=scrape", "proto=udp", "result=ok"}, 0},
		{"swarmlight_request_duration_seconds", []string{"proto=http"}, 4},
		{"swarmlight_request_duration_seconds", []string{"proto=udp"}, 3},
		{"swarmlight_cap_refusals_total", []string{"cap=torrents"}, 1},
		{"swarmlight_cap_refusals_total", []string{"cap=peers"}, 0},
		{"swarmlight_udp_packets_total", nil, 3},
		{"swarmlight_torrents", nil, 3},
		// peers[0] and peers[2] seed; peers[1] leeches, and so does peers[0]
		// from another address over UDP.
		{"swarmlight_peers", []string{"family=ipv4", "status=seeder"}, 2},
		{"swarmlight_peers", []string{"family=ipv4", "status=leecher"}, 2},
		{"swarmlight_peers", []string{"family=ipv4", "status=partial"}, 0},
		{"swarmlight_peers", []string{"family=ipv6", "status=seeder"}, 0},
		{"swarmlight_peers", []string{"family=ipv6", "status=leecher"}, 0},
	} {
		if d := value(t, after, tc.name, tc.labels...) - value(t, before, tc.name, tc.labels...); d != tc.moved {
			t.Errorf("%s%v moved by %v, want %v", tc.name, tc.labels, d, tc.moved)
		}
	}
	if m := value(t, after, "swarmlight_memory_bytes"); m <= 0 {
		t.Errorf("swarmlight_memory_bytes %v with peers in the store", m)
	}
	if n, m := series(before, "swarmlight_"), series(after, "swarmlight_"); n != m {
		t.Errorf("%d swarmlight series before the announces, %d after", n, m)
	}

	var secrets []string
	for _, p := range peers {
		secrets = append(secrets, p.secrets()...)
	}
	var labelValues []string
	for _, f := range after {
		for _, m := range f.Metric {
			for _, l := range m.Label {
				labelValues = append(labelValues, l.GetValue())
			}
		}
	}
	// A port is a short number, which a figure may equal by chance: it is
	// looked for among the label values, everything else in every byte.
	if found := privacytest.Find(strings.Join(labelValues, "\n"), secrets); len(found) > 0 {
		t.Errorf("a label value holds peer data: %q", found)
	}
	var long []string
	for _, s := range secrets {
		if len(s) > 5 {
			long = append(long, s)
		}
	}
	if found := privacytest.Find(body, long); len(found) > 0 {
		t.Errorf("the metrics hold peer data: %q", found)
	}
}

// series counts the series of the families whose names start with prefix.
func series(fams map[string]*dto.MetricFamily, prefix string) int {
	n := 0
	for name, f := range fams {
		if strings.HasPrefix(name, prefix) {
			n += len(f.Metric)
		}
	}
	return n
}

// Only GET and HEAD read the metrics.
func TestMethods(t *testing.T) {
	b := newBox(t)
	for _, tc := range []struct {
		method string
		status int
		body   bool
	}{
		{"GET", 200, true},
		{"HEAD", 200, false},
		{"POST", 405, false},
		{"DELETE", 405, false},
	} {
		req, _ := http.NewRequest(tc.method, b.metricsURL, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || strings.Contains(string(body), "swarmlight_torrents") != tc.body ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, %d bytes, Cache-Control %q", tc.method, resp.StatusCode, len(body), resp.Header.Get("Cache-Control"))
		}
	}
}

// TestPeersByFamily: swarmlight_peers splits the store's counts by family and
// status, each series its share and all of them adding up to every peer.
func TestPeersByFamily(t *testing.T) {
	st := swarm.Stats{Peers: 10, Seeders: 4, Partial: 2, Peers6: 3, Seeders6: 1, Partial6: 1}
	srv := httptest.NewServer(metrics.Handler(func() metrics.Figures {
		return metrics.Figures{Tracker: tracker.Stats{Swarm: st}}
	}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		family, status string
		want           float64
	}{
		{"ipv4", "seeder", 3}, {"ipv4", "partial", 1}, {"ipv4", "leecher", 3},
		{"ipv6", "seeder", 1}, {"ipv6", "partial", 1}, {"ipv6", "leecher", 1},
	} {
		if got := value(t, fams, "swarmlight_peers", "family="+tc.family, "status="+tc.status); got != tc.want {
			t.Errorf("swarmlight_peers{family=%q,status=%q} = %v, want %v", tc.family, tc.status, got, tc.want)
		}
	}
}
