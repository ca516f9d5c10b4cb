package httptracker

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// testBatch is small so that a few thousand torrents make hundreds of passes.
const testBatch = 7

var loopback = netip.MustParseAddr("127.0.0.1")

func withBatch(t *testing.T, n int) {
	t.Helper()
	old := tracker.FullScrapeBatch
	tracker.FullScrapeBatch = n
	t.Cleanup(func() { tracker.FullScrapeBatch = old })
}

// newFullScrapeServer is a server with full scrape on, and its store to fill.
func newFullScrapeServer(hc Config, tc tracker.Config) (*Server, swarm.Store) {
	tc.FullScrape = true
	store := swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{})
	return New(hc, tracker.New(tc, store, nil), slog.New(slog.DiscardHandler)), store
}

// fillStore announces n torrents with random hashes and varied counts.
func fillStore(tb testing.TB, store swarm.Store, n int, seed uint64) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	for i := range n {
		var h [20]byte
		for j := range h {
			h[j] = byte(rng.UintN(256))
		}
		for j := range 1 + i%3 {
			p := swarm.Params{
				InfoHash:  h,
				Addr:      netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(j), 1}), 6881),
				Status:    swarm.Status(j % 3),
				Completed: j == 1 && i%2 == 0,
				Families:  swarm.AnyFamily,
			}
			if err := store.Announce(&p, &swarm.Result{}); err != nil {
				tb.Fatal(err)
			}
		}
	}
}

// mapWriterReply is the reply the map writer gives for every torrent in the store,
// as the HTTP front answered a full scrape before it streamed.
func mapWriterReply(t *testing.T, s *Server, store swarm.Store) []byte {
	t.Helper()
	var hashes []tracker.InfoHash
	store.Range(func(h [20]byte, _ swarm.Counts) bool {
		hashes = append(hashes, h)
		return true
	})
	entries, err := s.trk.Scrape(loopback, nil, hashes, nil)
	if err != nil && len(hashes) > 0 {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeScrape(&buf, entries); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fileKeys returns the keys of a reply's files dict in wire order, read from the raw
// bytes: a decoded map would hide their order.
func fileKeys(t *testing.T, body []byte) []string {
	t.Helper()
	files, ok := bytes.CutPrefix(body, []byte(scrapeHead))
	if !ok {
		t.Fatalf("reply does not open a files dict: %.40q", body)
	}
	d := bencode.NewDecoder(bytes.NewReader(files))
	var keys []string
	for int(d.Offset) < len(files) && files[d.Offset] != 'e' {
		var key string
		var value any
		if err := d.Decode(&key); err != nil {
			t.Fatalf("key %d: %v", len(keys), err)
		}
		if err := d.Decode(&value); err != nil {
			t.Fatalf("value %d: %v", len(keys), err)
		}
		keys = append(keys, key)
	}
	if tail := files[min(int(d.Offset), len(files)):]; string(tail) != scrapeTail {
		t.Fatalf("reply ends with %q, want %q", tail, scrapeTail)
	}
	return keys
}

// The streamed entry is byte for byte what the map writer gives for one entry,
// down to the longest numbers, and fits the room writeScrapeEntry makes for it.
func TestWriteScrapeEntryExactBytes(t *testing.T) {
	for _, e := range []tracker.ScrapeEntry{
		{InfoHash: testHash, Complete: 1, Incomplete: 2, Downloaded: 3, Downloaders: 4},
		{},
		{InfoHash: testHash, Complete: math.MaxInt, Incomplete: math.MinInt, Downloaded: math.MinInt, Downloaders: math.MaxInt},
	} {
		var want bytes.Buffer
		if err := writeScrape(&want, []tracker.ScrapeEntry{e}); err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		bw := bufio.NewWriterSize(&got, maxScrapeEntry) // the smallest buffer it may be given
		for _, part := range []func() error{
			func() error { _, err := bw.WriteString(scrapeHead); return err },
			func() error { return writeScrapeEntry(bw, &e) },
			func() error { _, err := bw.WriteString(scrapeTail); return err },
			bw.Flush,
		} {
			if err := part(); err != nil {
				t.Fatal(err)
			}
		}
		if got.String() != want.String() {
			t.Errorf("got  %q\nwant %q", got.Bytes(), want.Bytes())
		}
		if n := got.Len() - len(scrapeHead) - len(scrapeTail); n > maxScrapeEntry {
			t.Errorf("entry of %d bytes, over maxScrapeEntry %d", n, maxScrapeEntry)
		}
	}
}

func TestWriteScrapeEntryAllocs(t *testing.T) {
	bw := bufio.NewWriterSize(io.Discard, fullScrapeChunk)
	e := tracker.ScrapeEntry{InfoHash: testHash, Complete: 12345, Incomplete: 678, Downloaded: 9, Downloaders: 10}
	allocs := testing.AllocsPerRun(1000, func() {
		if err := writeScrapeEntry(bw, &e); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("writeScrapeEntry allocates %.1f times per entry", allocs)
	}
}

func getBody(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the reply: %v", err)
	}
	return resp, body
}

func TestFullScrapeStreamsWhatTheMapWriterGave(t *testing.T) {
	withBatch(t, testBatch)
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"empty", 0},
		{"one", 1},
		{"exactly a batch", testBatch},
		{"one over a batch", testBatch + 1},
		{"thousands", 3000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, store := newFullScrapeServer(testConfigs())
			fillStore(t, store, tc.n, uint64(tc.n))
			resp, body := getBody(t, http.DefaultClient, "http://"+serve(t, s)+"/scrape")

			got, want := decodeDict(t, body), decodeDict(t, mapWriterReply(t, s, store))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("streamed dict differs from the map writer's:\ngot  %.200q\nwant %.200q", got, want)
			}
			keys := fileKeys(t, body)
			if len(keys) != tc.n {
				t.Errorf("%d keys on the wire, want %d", len(keys), tc.n)
			}
			for i := 1; i < len(keys); i++ {
				if keys[i-1] >= keys[i] {
					t.Fatalf("key %d is not above the one before", i)
				}
			}
			for k, v := range map[string]string{"Content-Type": "text/plain", "Cache-Control": "no-store"} {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s %q, want %q", k, got, v)
				}
			}
			if tc.n >= 1000 && resp.ContentLength != -1 {
				t.Errorf("a big full scrape has a content length of %d: it was buffered", resp.ContentLength)
			}
		})
	}
}

func TestFullScrapeRefusalsAreFailureReplies(t *testing.T) {
	failure := func(e *tracker.Error) string {
		var buf bytes.Buffer
		if err := writeFailure(&buf, e); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	hc, tc := testConfigs()
	off := newServer(hc, tc) // full scrape off, as by default
	tc.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	closed, _ := newFullScrapeServer(hc, tc)
	for _, c := range []struct {
		name string
		s    *Server
		want *tracker.Error
	}{
		{"full scrape off", off, tracker.ErrFullScrape},
		{"not allowed", closed, tracker.ErrNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			resp, body := getBody(t, http.DefaultClient, "http://"+serve(t, c.s)+"/scrape")
			if resp.StatusCode != http.StatusOK || string(body) != failure(c.want) {
				t.Errorf("got %d %q, want 200 %q", resp.StatusCode, body, failure(c.want))
			}
			if resp.ContentLength != int64(len(body)) {
				t.Errorf("content length %d for a %d-byte failure reply", resp.ContentLength, len(body))
			}
		})
	}
}

// A full scrape while another runs gets "retry in" a minute; one after it ends is
// answered.
func TestFullScrapeOneAtATime(t *testing.T) {
	s, store := newFullScrapeServer(testConfigs())
	fillStore(t, store, 3, 1)
	url := "http://" + serve(t, s) + "/scrape"

	started, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		first := true
		done <- s.trk.FullScrape(loopback, nil, func(tracker.ScrapeEntry) error {
			if first {
				first = false
				close(started)
				<-release
			}
			return nil
		})
	}()
	<-started
	_, body := getBody(t, http.DefaultClient, url)
	got := decodeDict(t, body)
	if got["failure reason"] != tracker.ErrFullScrapeBusy.Reason || got["retry in"] != int64(1) {
		t.Errorf("full scrape while another runs: %q, want the busy reason with retry in 1", body)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, body = getBody(t, http.DefaultClient, url)
	if files, _ := decodeDict(t, body)["files"].(map[string]any); len(files) != 3 {
		t.Errorf("full scrape after the other ended: %q", body)
	}
}

// smallBuffers shrinks a socket's kernel buffers, so that a server writing a reply
// must wait for the client to read it rather than hand it all to the kernel.
func smallBuffers(_, _ string, c syscall.RawConn) error {
	var err error
	if cerr := c.Control(func(fd uintptr) {
		for _, opt := range []int{syscall.SO_SNDBUF, syscall.SO_RCVBUF} {
			if err == nil {
				err = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, opt, 4096)
			}
		}
	}); cerr != nil {
		return cerr
	}
	return err
}

// serveSmallBuffers runs s on a loopback listener whose connections have small
// kernel buffers, and returns a client whose connections have them too. The reply
// tested must be far larger than what the buffers hold.
func serveSmallBuffers(t *testing.T, s *Server) (*http.Client, string) {
	t.Helper()
	lc := net.ListenConfig{Control: smallBuffers}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(s.close)
	d := &net.Dialer{Control: smallBuffers}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}, "http://" + l.Addr().String() + "/scrape"
}

// slowTimeout is the write timeout of the slow-client tests: the whole reply takes
// several times longer to read, each chunk far less.
const slowTimeout = 300 * time.Millisecond

// A client that reads slowly but steadily gets the whole reply, though reading it
// takes longer than http.write_timeout.
func TestFullScrapeSlowReader(t *testing.T) {
	hc, tc := testConfigs()
	hc.WriteTimeout = slowTimeout
	s, store := newFullScrapeServer(hc, tc)
	fillStore(t, store, 3000, 4)
	c, url := serveSmallBuffers(t, s)
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	buf := make([]byte, 2<<10)
	for {
		n, err := resp.Body.Read(buf)
		body.Write(buf[:n])
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", body.Len(), err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got, want := decodeDict(t, body.Bytes()), decodeDict(t, mapWriterReply(t, s, store)); !reflect.DeepEqual(got, want) {
		t.Errorf("slowly read reply differs from the map writer's")
	}
}

// A client that stops reading is cut off after http.write_timeout, sees a truncated
// reply rather than a complete-looking one, and does not keep the full scrape
// slot: the next full scrape is answered.
func TestFullScrapeStalledReaderIsCut(t *testing.T) {
	hc, tc := testConfigs()
	hc.WriteTimeout = slowTimeout
	s, store := newFullScrapeServer(hc, tc)
	fillStore(t, store, 3000, 5)
	c, url := serveSmallBuffers(t, s)
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	time.Sleep(3 * slowTimeout)
	if body, err := io.ReadAll(resp.Body); err == nil {
		t.Fatalf("a stalled client got a complete-looking reply of %d bytes", len(body))
	}
	_, body := getBody(t, c, url)
	if files, _ := decodeDict(t, body)["files"].(map[string]any); len(files) != 3000 {
		t.Errorf("full scrape after a stalled one: %d files", len(files))
	}
}

// countingWriter is a ResponseWriter that drops the body and counts it.
type countingWriter struct {
	h http.Header
	n int64
}

func (w *countingWriter) Header() http.Header         { return w.h }
func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }
func (w *countingWriter) WriteHeader(int)             {}

// BenchmarkFullScrape streams one full scrape of a million one-peer torrents
// through the handler into a writer that drops it, and reports what the scrape
// adds to memory: bytes allocated (a bound on how much the heap can grow), the
// change in heap in use, and the peak RSS above the RSS before (VmHWM, which the
// benchmark resets first). ns/op is the time of one full scrape.
func BenchmarkFullScrape(b *testing.B) {
	const torrents = 1_000_000
	hc, tc := testConfigs()
	s, store := newFullScrapeServer(hc, tc)
	fillStore(b, store, torrents, 6)
	if got := store.Stats().Torrents; got != torrents {
		b.Fatalf("store holds %d torrents, want %d", got, torrents)
	}
	req := httptest.NewRequest("GET", "/scrape", nil)
	req.RemoteAddr = "127.0.0.1:40000"

	var alloc, heap, rss, size float64
	canResetRSS := true
	for b.Loop() {
		b.StopTimer()
		runtime.GC()
		debug.FreeOSMemory() // so that new heap pages show in RSS
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			canResetRSS = false
		}
		rss0 := procStatusKiB(b, "VmRSS")
		var m0, m1 runtime.MemStats
		runtime.ReadMemStats(&m0)
		w := &countingWriter{h: http.Header{}}
		b.StartTimer()

		s.ServeHTTP(w, req)

		b.StopTimer()
		runtime.ReadMemStats(&m1)
		alloc = max(alloc, float64(m1.TotalAlloc-m0.TotalAlloc))
		heap = max(heap, float64(int64(m1.HeapInuse)-int64(m0.HeapInuse)))
		rss = max(rss, float64(procStatusKiB(b, "VmHWM")-rss0))
		size = float64(w.n)
		b.StartTimer()
	}
	if size < float64(torrents)*60 {
		b.Fatalf("reply of %.0f bytes for %d torrents", size, torrents)
	}
	b.ReportMetric(alloc/1024, "alloc-KiB/op")
	b.ReportMetric(heap/1024, "heapinuse-KiB/op")
	if canResetRSS {
		b.ReportMetric(rss, "peakRSS-KiB/op")
	} else {
		b.Log("cannot reset VmHWM (/proc/self/clear_refs): peak RSS not reported")
	}
	b.ReportMetric(size/1e6, "MB-reply/op")
}

// procStatusKiB reads one kB figure from /proc/self/status.
func procStatusKiB(b *testing.B, key string) int64 {
	b.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		b.Skipf("no /proc/self/status: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+":"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Skipf("no %s in /proc/self/status", key)
	return 0
}
