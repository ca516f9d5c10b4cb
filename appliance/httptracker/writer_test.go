package httptracker

import (
	"bytes"
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// decodeDict decodes a reply into generic values. Decoding into an interface makes
// the anacrolix decoder reject unsorted or duplicate keys, so this also checks the
// wire order.
func decodeDict(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var v any
	if err := bencode.Unmarshal(b, &v); err != nil {
		t.Fatalf("reply %q does not decode: %v", b, err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("reply %q is a %T, not a dict", b, v)
	}
	return m
}

func TestWriteAnnounce(t *testing.T) {
	peers4 := []byte{10, 0, 0, 1, 0x1a, 0xe1, 10, 0, 0, 2, 0x1a, 0xe2}
	peers6 := append(netip.MustParseAddr("2001:db8::1").AsSlice(), 0x1a, 0xe1)
	base := tracker.AnnounceResponse{
		Interval:    30*time.Minute + 900*time.Millisecond, // whole seconds: truncated
		MinInterval: 15 * time.Minute,
		Complete:    1,
		Incomplete:  2,
		Downloaded:  3,
		Downloaders: 4,
	}
	baseDict := map[string]any{
		"interval": int64(1800), "min interval": int64(900),
		"complete": int64(1), "incomplete": int64(2), "downloaded": int64(3), "downloaders": int64(4),
		"peers": "",
	}
	tests := []struct {
		name string
		edit func(*tracker.AnnounceResponse)
		want map[string]any // added to or overriding baseDict
	}{
		{"no peers", nil, nil},
		{"empty non-nil peers", func(r *tracker.AnnounceResponse) { r.Peers4, r.Peers6 = []byte{}, []byte{} }, nil},
		{"ipv4 peers", func(r *tracker.AnnounceResponse) { r.Peers4 = peers4 },
			map[string]any{"peers": string(peers4)}},
		{"ipv6 peers only", func(r *tracker.AnnounceResponse) { r.Peers6 = peers6 },
			map[string]any{"peers6": string(peers6)}},
		{"both families", func(r *tracker.AnnounceResponse) { r.Peers4, r.Peers6 = peers4, peers6 },
			map[string]any{"peers": string(peers4), "peers6": string(peers6)}},
		{"external ipv4", func(r *tracker.AnnounceResponse) { r.ExternalIP = netip.MustParseAddr("192.168.1.7") },
			map[string]any{"external ip": "\xc0\xa8\x01\x07"}},
		{"external mapped ipv4", func(r *tracker.AnnounceResponse) { r.ExternalIP = netip.MustParseAddr("::ffff:192.168.1.7") },
			map[string]any{"external ip": "\xc0\xa8\x01\x07"}},
		{"external ipv6", func(r *tracker.AnnounceResponse) { r.ExternalIP = netip.MustParseAddr("2001:db8::7") },
			map[string]any{"external ip": string(netip.MustParseAddr("2001:db8::7").AsSlice())}},
		{"zero counts kept", func(r *tracker.AnnounceResponse) { *r = tracker.AnnounceResponse{} },
			map[string]any{"interval": int64(0), "min interval": int64(0), "complete": int64(0),
				"incomplete": int64(0), "downloaded": int64(0), "downloaders": int64(0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			if tt.edit != nil {
				tt.edit(&r)
			}
			want := map[string]any{}
			for k, v := range baseDict {
				want[k] = v
			}
			for k, v := range tt.want {
				want[k] = v
			}
			var buf bytes.Buffer
			if err := writeAnnounce(&buf, &r); err != nil {
				t.Fatal(err)
			}
			if got := decodeDict(t, buf.Bytes()); !reflect.DeepEqual(got, want) {
				t.Errorf("got  %q\nwant %q\nwire %q", got, want, buf.Bytes())
			}
		})
	}
}

func TestWriteAnnounceExactBytes(t *testing.T) {
	r := tracker.AnnounceResponse{
		Interval: 1800 * time.Second, MinInterval: 900 * time.Second,
		Complete: 1, Incomplete: 2, Downloaded: 3, Downloaders: 4,
		Peers4:     []byte("ABCDEF"),
		ExternalIP: netip.MustParseAddr("10.0.0.1"),
	}
	const want = "d8:completei1e10:downloadedi3e11:downloadersi4e11:external ip4:\x0a\x00\x00\x01" +
		"10:incompletei2e8:intervali1800e12:min intervali900e5:peers6:ABCDEFe"
	var buf bytes.Buffer
	if err := writeAnnounce(&buf, &r); err != nil {
		t.Fatal(err)
	}
	if buf.String() != want {
		t.Errorf("got  %q\nwant %q", buf.String(), want)
	}
}

// Reply structs are pooled; a reply without peers6 or external ip must not inherit
// them from the previous one, and a pooled reply must not keep the caller's peer
// buffers alive.
func TestWriteAnnouncePoolDoesNotLeak(t *testing.T) {
	full := tracker.AnnounceResponse{
		Peers4: []byte("ABCDEF"), Peers6: bytes.Repeat([]byte{1}, 18),
		ExternalIP: netip.MustParseAddr("2001:db8::1"),
	}
	for range 10 {
		if err := writeAnnounce(&bytes.Buffer{}, &full); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := writeAnnounce(&buf, &tracker.AnnounceResponse{}); err != nil {
			t.Fatal(err)
		}
		got := decodeDict(t, buf.Bytes())
		for _, k := range []string{"peers6", "external ip"} {
			if _, ok := got[k]; ok {
				t.Fatalf("%q leaked from a previous reply: %q", k, buf.Bytes())
			}
		}
		if got["peers"] != "" {
			t.Fatalf("peers leaked from a previous reply: %q", buf.Bytes())
		}
	}
	rb := getReplyBuffer()
	defer rb.put()
	if rb.announce.Peers != nil || rb.announce.Peers6 != nil || rb.failure.RetryIn != nil {
		t.Errorf("pooled reply still references caller data: %+v", rb.announce)
	}
}

func TestWriteAnnounceAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items under -race")
	}
	r := tracker.AnnounceResponse{
		Interval: 1800 * time.Second, MinInterval: 900 * time.Second,
		Peers4: bytes.Repeat([]byte{1}, 50*6), ExternalIP: netip.MustParseAddr("10.0.0.1"),
	}
	var buf bytes.Buffer
	allocs := testing.AllocsPerRun(1000, func() {
		buf.Reset()
		if err := writeAnnounce(&buf, &r); err != nil {
			t.Fatal(err)
		}
	})
	// The pooled reply and buffer make the steady state allocation-free with the
	// pinned encoder; a per-call reply struct or a copied peer list would show here.
	if allocs != 0 {
		t.Errorf("writeAnnounce allocates %.1f times per call", allocs)
	}
}

func BenchmarkWriteAnnounce(b *testing.B) {
	b.ReportAllocs()
	r := tracker.AnnounceResponse{
		Interval: 1800 * time.Second, MinInterval: 900 * time.Second,
		Complete: 10, Incomplete: 40, Downloaded: 100,
		Peers4: bytes.Repeat([]byte{1}, 50*6), ExternalIP: netip.MustParseAddr("10.0.0.1"),
	}
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		if err := writeAnnounce(&buf, &r); err != nil {
			b.Fatal(err)
		}
	}
}

// testHash has bytes that need escaping in any text form.
var testHash = tracker.InfoHash([]byte("\x00\x01 +%&=#?/\x7f\x80\xfe\xffABCxyz"))

func TestWriteScrape(t *testing.T) {
	a, z := tracker.InfoHash{0x01, 'h'}, tracker.InfoHash{0xff, 0xfe}
	tests := []struct {
		name    string
		entries []tracker.ScrapeEntry
		want    map[string]any
	}{
		{"none", nil, map[string]any{}},
		{"unsorted and duplicated", []tracker.ScrapeEntry{
			{InfoHash: z, Complete: 5, Incomplete: 6, Downloaded: 7, Downloaders: 8},
			{InfoHash: testHash, Complete: 1, Incomplete: 2, Downloaded: 3, Downloaders: 4},
			{InfoHash: a},
			{InfoHash: z, Complete: 5, Incomplete: 6, Downloaded: 7, Downloaders: 8},
		}, map[string]any{
			string(z[:]):        map[string]any{"complete": int64(5), "incomplete": int64(6), "downloaded": int64(7), "downloaders": int64(8)},
			string(testHash[:]): map[string]any{"complete": int64(1), "incomplete": int64(2), "downloaded": int64(3), "downloaders": int64(4)},
			string(a[:]):        map[string]any{"complete": int64(0), "incomplete": int64(0), "downloaded": int64(0), "downloaders": int64(0)},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeScrape(&buf, tt.entries); err != nil {
				t.Fatal(err)
			}
			got := decodeDict(t, buf.Bytes())
			if len(got) != 1 {
				t.Errorf("top level has keys %q, want only files", got)
			}
			if !reflect.DeepEqual(got["files"], tt.want) {
				t.Errorf("got files %q\nwant %q", got["files"], tt.want)
			}
		})
	}
}

func TestWriteScrapeExactBytes(t *testing.T) {
	h := tracker.InfoHash([]byte("aaaaaaaaaaaaaaaaaaaa"))
	tests := []struct {
		name    string
		entries []tracker.ScrapeEntry
		want    string
	}{
		{"empty", nil, "d5:filesdee"},
		{"one", []tracker.ScrapeEntry{{InfoHash: h, Complete: 1, Incomplete: 2, Downloaded: 3, Downloaders: 4}},
			"d5:filesd20:aaaaaaaaaaaaaaaaaaaad8:completei1e10:downloadedi3e11:downloadersi4e10:incompletei2eeee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeScrape(&buf, tt.entries); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got  %q\nwant %q", buf.String(), tt.want)
			}
		})
	}
}

func TestWriteFailure(t *testing.T) {
	tests := []struct {
		name    string
		retryIn time.Duration
		want    string
	}{
		{"unspecified", 0, "d14:failure reason4:nopee"},
		{"never", -1, "d14:failure reason4:nope8:retry in5:nevere"},
		{"never, any negative", -time.Hour, "d14:failure reason4:nope8:retry in5:nevere"},
		{"under a minute rounds up", time.Second, "d14:failure reason4:nope8:retry ini1ee"},
		{"one minute", time.Minute, "d14:failure reason4:nope8:retry ini1ee"},
		{"just over rounds up", time.Minute + time.Nanosecond, "d14:failure reason4:nope8:retry ini2ee"},
		{"ninety minutes", 90 * time.Minute, "d14:failure reason4:nope8:retry ini90ee"},
		{"max duration", time.Duration(1<<63 - 1), "d14:failure reason4:nope8:retry ini153722868ee"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := writeFailure(&buf, &tracker.Error{Reason: "nope", RetryIn: tt.retryIn}); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got  %q\nwant %q", buf.String(), tt.want)
			}
			decodeDict(t, buf.Bytes())
		})
	}
}

func TestWriteFailureSharedErrors(t *testing.T) {
	for _, e := range []*tracker.Error{tracker.ErrNotAllowed, tracker.ErrFullScrape, {Reason: "invalid port"}} {
		var buf bytes.Buffer
		if err := writeFailure(&buf, e); err != nil {
			t.Fatal(err)
		}
		got := decodeDict(t, buf.Bytes())
		if got["failure reason"] != e.Reason {
			t.Errorf("got reason %q, want %q", got["failure reason"], e.Reason)
		}
	}
}

func TestWriteFailureNil(t *testing.T) {
	var buf bytes.Buffer
	if err := writeFailure(&buf, nil); err == nil {
		t.Error("nil error accepted")
	}
	if buf.Len() != 0 {
		t.Errorf("wrote %q for a nil error", buf.Bytes())
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

// A write error must come back to the caller (to log and drop the connection),
// identifiable with errors.Is.
func TestWritersReturnWriteErrors(t *testing.T) {
	boom := errors.New("connection reset")
	w := failingWriter{boom}
	writes := map[string]error{
		"announce": writeAnnounce(w, &tracker.AnnounceResponse{}),
		"scrape":   writeScrape(w, []tracker.ScrapeEntry{{}}),
		"failure":  writeFailure(w, &tracker.Error{Reason: "x"}),
	}
	for name, err := range writes {
		if !errors.Is(err, boom) {
			t.Errorf("%s: got %v, want the write error", name, err)
		}
	}
}
