package query

import (
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// testHash is full of bytes that mean something in a query (space, '+', '%', '&',
// '=', '#') plus NUL and high bytes, so a decoder that takes any shortcut breaks.
var (
	testHash   = tracker.InfoHash([]byte("\x00\x01 +%&=#?/\x7f\x80\xfe\xffABCxyz"))
	testPeerID = tracker.PeerID([]byte("-qB4650-a b+c%d&e=fg"))
	escHash    = url.QueryEscape(string(testHash[:]))
	escPeerID  = url.QueryEscape(string(testPeerID[:]))
	baseQuery  = "info_hash=" + escHash + "&peer_id=" + escPeerID + "&port=6881&left=3"
)

// escapeAll %-escapes every byte, the most expensive legal spelling of a value.
func escapeAll(b []byte, lower bool) string {
	format := "%%%02X"
	if lower {
		format = "%%%02x"
	}
	var sb strings.Builder
	for _, c := range b {
		fmt.Fprintf(&sb, format, c)
	}
	return sb.String()
}

// testKey is a passkey as `swarmlight key add` makes them: 32 lowercase hex digits.
const testKey = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"

// passkey is s as a request's key, empty when s is no usable key.
func passkey(s string) access.Key {
	var k access.Key
	k.Set(s)
	return k
}

func fnv32a(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// baseWant is what baseQuery parses to; cases edit a copy.
func baseWant() tracker.AnnounceRequest {
	return tracker.AnnounceRequest{
		InfoHash: testHash,
		PeerID:   testPeerID,
		Port:     6881,
		Left:     3,
		NumWant:  -1,
	}
}

// anacrolixQuery builds a query the way github.com/anacrolix/torrent/tracker/http
// (setAnnounceParams, v1.62.0) does: url.Values holding raw bytes, Encode, then
// every '+' replaced by %20, with ipv4 also repeated as ip and left unknown sent
// as math.MaxInt64.
func anacrolixQuery(h tracker.InfoHash, id tracker.PeerID, key int32) string {
	q := url.Values{}
	q.Set("key", strconv.FormatInt(int64(key), 10))
	q.Set("info_hash", string(h[:]))
	q.Set("peer_id", string(id[:]))
	q.Set("port", fmt.Sprintf("%d", 42069))
	q.Set("uploaded", strconv.FormatInt(0, 10))
	q.Set("downloaded", strconv.FormatInt(0, 10))
	q.Set("left", strconv.FormatInt(math.MaxInt64, 10))
	q.Set("event", "started")
	q.Set("compact", "1")
	q.Set("supportcrypto", "1")
	q.Set("ipv4", "192.168.1.20")
	q.Add("ip", "192.168.1.20")
	return strings.ReplaceAll(q.Encode(), "+", "%20")
}

func TestParseAnnounce(t *testing.T) {
	maxI64 := strconv.FormatInt(math.MaxInt64, 10)
	tests := []struct {
		name  string
		query string
		edit  func(*tracker.AnnounceRequest) // applied to baseWant
	}{
		{"minimal", baseQuery, nil},
		{"all fields", baseQuery + "&uploaded=10&downloaded=20&event=completed&numwant=30&key=abc&compact=1&no_peer_id=1&supportcrypto=1&corrupt=5&trackerid=xyz&requirecrypto=0",
			func(r *tracker.AnnounceRequest) {
				r.Uploaded, r.Downloaded, r.Event, r.NumWant = 10, 20, tracker.EventCompleted, 30
				r.Key, r.HasKey = fnv32a("abc"), true
			}},
		{"anacrolix client", anacrolixQuery(testHash, testPeerID, -123456), func(r *tracker.AnnounceRequest) {
			r.Port, r.Left, r.Event = 42069, math.MaxInt64, tracker.EventStarted
			r.Key, r.HasKey = fnv32a("-123456"), true
			r.IP = netip.MustParseAddr("192.168.1.20")
		}},
		{"max int64 counters", baseQuery + "&uploaded=" + maxI64 + "&downloaded=" + maxI64 + "&left=" + maxI64, func(r *tracker.AnnounceRequest) {
			r.Uploaded, r.Downloaded, r.Left = math.MaxInt64, math.MaxInt64, math.MaxInt64
		}},
		{"leading zeros", baseQuery + "&port=00080&left=000", func(r *tracker.AnnounceRequest) { r.Port, r.Left = 80, 0 }},
		{"minus zero is zero", baseQuery + "&left=-0", func(r *tracker.AnnounceRequest) { r.Left = 0 }},
		{"port 1", baseQuery + "&port=1", func(r *tracker.AnnounceRequest) { r.Port = 1 }},
		{"port 65535", baseQuery + "&port=65535", func(r *tracker.AnnounceRequest) { r.Port = 65535 }},
		{"escaped digits", baseQuery + "&port=%36%38%38%32", func(r *tracker.AnnounceRequest) { r.Port = 6882 }},
		{"empty segments", "&&" + strings.ReplaceAll(baseQuery, "&", "&&&") + "&", nil},
		{"repeated scalar, last wins", baseQuery + "&port=1&port=2&left=9", func(r *tracker.AnnounceRequest) { r.Port, r.Left = 2, 9 }},
		{"plus is space", "info_hash=" + escHash + "&peer_id=-qB4650-a+b%2Bc%25d%26e%3Dfg&port=6881&left=3", nil},
		{"percent 20 is space", "info_hash=" + escHash + "&peer_id=-qB4650-a%20b%2Bc%25d%26e%3Dfg&port=6881&left=3", nil},
		{"lowercase hex", "info_hash=" + escapeAll(testHash[:], true) + "&peer_id=" + escapeAll(testPeerID[:], true) + "&port=6881&left=3", nil},
		{"uppercase hex", "info_hash=" + escapeAll(testHash[:], false) + "&peer_id=" + escapeAll(testPeerID[:], false) + "&port=6881&left=3", nil},
		{"names are not decoded", baseQuery + "&nu%6Dwant=5&event%3D=started", nil},
		{"param without value ignored", baseQuery + "&compact&no_peer_id", nil},
		{"bad escape in unknown param ignored", baseQuery + "&trackerid=%zz&x%=%", nil},

		{"event started", baseQuery + "&event=started", func(r *tracker.AnnounceRequest) { r.Event = tracker.EventStarted }},
		{"event stopped", baseQuery + "&event=stopped", func(r *tracker.AnnounceRequest) { r.Event = tracker.EventStopped }},
		{"event paused", baseQuery + "&event=paused", func(r *tracker.AnnounceRequest) { r.Event = tracker.EventPaused }},
		{"event escaped", baseQuery + "&event=st%61rted", func(r *tracker.AnnounceRequest) { r.Event = tracker.EventStarted }},
		{"event unknown", baseQuery + "&event=bored", nil},
		{"event empty", baseQuery + "&event=", nil},
		{"event long escaped", baseQuery + "&event=" + escapeAll([]byte("startedstartedstartedstarted"), false), nil},

		{"numwant zero", baseQuery + "&numwant=0", func(r *tracker.AnnounceRequest) { r.NumWant = 0 }},
		{"numwant above cap", baseQuery + "&numwant=100000", func(r *tracker.AnnounceRequest) { r.NumWant = 100000 }},
		{"numwant overflow clamps", baseQuery + "&numwant=99999999999999999999999999", func(r *tracker.AnnounceRequest) { r.NumWant = math.MaxInt }},

		{"key hex", baseQuery + "&key=1A2B3C4D", func(r *tracker.AnnounceRequest) { r.Key, r.HasKey = fnv32a("1A2B3C4D"), true }},
		{"key signed decimal", baseQuery + "&key=-42", func(r *tracker.AnnounceRequest) { r.Key, r.HasKey = fnv32a("-42"), true }},
		{"key decoded before hashing", baseQuery + "&key=%41+b", func(r *tracker.AnnounceRequest) { r.Key, r.HasKey = fnv32a("A b"), true }},
		{"key empty", baseQuery + "&key=", func(r *tracker.AnnounceRequest) { r.Key, r.HasKey = fnv32a(""), true }},

		{"ip v4", baseQuery + "&ip=10.0.0.5", func(r *tracker.AnnounceRequest) { r.IP = netip.MustParseAddr("10.0.0.5") }},
		{"ipv6 param", baseQuery + "&ipv6=2001:db8::1", func(r *tracker.AnnounceRequest) { r.IP = netip.MustParseAddr("2001:db8::1") }},
		{"ipv6 escaped", baseQuery + "&ipv6=2001%3Adb8%3A%3A1", func(r *tracker.AnnounceRequest) { r.IP = netip.MustParseAddr("2001:db8::1") }},
		{"ip mapped is unmapped", baseQuery + "&ip=::ffff:10.0.0.5", func(r *tracker.AnnounceRequest) { r.IP = netip.MustParseAddr("10.0.0.5") }},
		{"first ip wins", baseQuery + "&ipv4=10.0.0.1&ip=10.0.0.2", func(r *tracker.AnnounceRequest) { r.IP = netip.MustParseAddr("10.0.0.1") }},
		{"hostname skipped", baseQuery + "&ip=peer.example&ipv4=10.0.0.6", func(r *tracker.AnnounceRequest) { r.IP = netip.MustParseAddr("10.0.0.6") }},
		{"zoned ip ignored", baseQuery + "&ip=fe80::1%25eth0", nil},
		{"bad escape in ip ignored", baseQuery + "&ip=10.0.0.%zz", nil},
		{"overlong ip ignored", baseQuery + "&ip=" + escapeAll([]byte(strings.Repeat("1", 60)), false), nil},

		{"passkey", baseQuery + "&passkey=" + testKey, func(r *tracker.AnnounceRequest) { r.Passkey = passkey(testKey) }},
		{"passkey escaped", baseQuery + "&passkey=" + escapeAll([]byte(testKey), true), func(r *tracker.AnnounceRequest) { r.Passkey = passkey(testKey) }},
		{"passkey repeated, last wins", baseQuery + "&passkey=abc&passkey=" + testKey, func(r *tracker.AnnounceRequest) { r.Passkey = passkey(testKey) }},
		{"passkey longest", baseQuery + "&passkey=" + strings.Repeat("k", access.MaxKeyLen), func(r *tracker.AnnounceRequest) { r.Passkey = passkey(strings.Repeat("k", access.MaxKeyLen)) }},
		// A bad passkey is no key, for the access check to refuse in private
		// mode; it never fails the parse, so it cannot be echoed in a reason.
		{"passkey too long is none", baseQuery + "&passkey=" + strings.Repeat("k", access.MaxKeyLen+1), nil},
		{"passkey escaped too long is none", baseQuery + "&passkey=" + escapeAll([]byte(strings.Repeat("k", access.MaxKeyLen+1)), false), nil},
		{"passkey odd characters is none", baseQuery + "&passkey=abc-def", nil},
		{"passkey space is none", baseQuery + "&passkey=abc+def", nil},
		{"passkey bad escape is none", baseQuery + "&passkey=abc%zz", nil},
		{"passkey empty is none", baseQuery + "&passkey=", nil},
		{"passkey bad after good is none", baseQuery + "&passkey=" + testKey + "&passkey=%", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := baseWant()
			if tt.edit != nil {
				tt.edit(&want)
			}
			// Junk in req proves ParseAnnounce resets it.
			got := tracker.AnnounceRequest{Uploaded: 99, Key: 7, HasKey: true, IP: netip.IPv6Loopback(), Event: tracker.EventStopped, Passkey: passkey("junk")}
			if err := ParseAnnounce(tt.query, &got); err != nil {
				t.Fatalf("ParseAnnounce: %v", err)
			}
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// Every byte value must survive escaping, in both hex cases and url.QueryEscape's
// mixed form; 13 hashes of 20 bytes cover 0..255.
func TestParseAnnounceEveryByte(t *testing.T) {
	for start := 0; start < 256; start += 20 {
		var h tracker.InfoHash
		for i := range h {
			h[i] = byte(start + i)
		}
		for _, esc := range []string{escapeAll(h[:], false), escapeAll(h[:], true), url.QueryEscape(string(h[:]))} {
			var req tracker.AnnounceRequest
			q := "info_hash=" + esc + "&peer_id=" + esc + "&port=1&left=0"
			if err := ParseAnnounce(q, &req); err != nil {
				t.Fatalf("bytes %d..: %v", start, err)
			}
			if req.InfoHash != h || req.PeerID != tracker.PeerID(h) {
				t.Errorf("bytes %d.. via %q: got %x / %x", start, esc, req.InfoHash, req.PeerID)
			}
		}
	}
}

func TestParseAnnounceErrors(t *testing.T) {
	noHash := "peer_id=" + escPeerID + "&port=6881&left=3"
	withHash := func(v string) string { return "info_hash=" + v + "&" + noHash }
	noPeer := "info_hash=" + escHash + "&port=6881&left=3"
	withPeer := func(v string) string { return "peer_id=" + v + "&" + noPeer }
	noPort := "info_hash=" + escHash + "&peer_id=" + escPeerID + "&left=3"
	noLeft := "info_hash=" + escHash + "&peer_id=" + escPeerID + "&port=6881"
	tooLong := baseQuery + "&x="
	tooLong += strings.Repeat("a", MaxLen+1-len(tooLong))

	tests := []struct {
		name, query, reason string
	}{
		{"empty query", "", "missing info_hash"},
		{"query too long", tooLong, "query too long"},
		{"missing info_hash", noHash, "missing info_hash"},
		{"escaped info_hash name", "info%5Fhash=" + escHash + "&" + noHash, "missing info_hash"},
		{"info_hash empty", withHash(""), "info_hash must be 20 bytes"},
		{"info_hash no equals", "info_hash&" + noHash, "info_hash must be 20 bytes"},
		{"info_hash 19 bytes", withHash(strings.Repeat("a", 19)), "info_hash must be 20 bytes"},
		{"info_hash 21 bytes", withHash(strings.Repeat("%61", 21)), "info_hash must be 20 bytes"},
		{"info_hash 40 hex chars", withHash(strings.Repeat("ab", 20)), "info_hash must be 20 bytes"},
		{"info_hash repeated", baseQuery + "&info_hash=" + escHash, "info_hash given more than once"},
		{"info_hash bad escape", withHash(strings.Repeat("a", 18) + "%G0"), "invalid percent-encoding in query"},
		{"info_hash truncated escape", withHash(strings.Repeat("a", 19) + "%4"), "invalid percent-encoding in query"},
		{"info_hash trailing percent", withHash(strings.Repeat("a", 19) + "%"), "invalid percent-encoding in query"},
		{"bad escape past 20 bytes", withHash(strings.Repeat("a", 25) + "%x1"), "invalid percent-encoding in query"},
		{"missing peer_id", noPeer, "missing peer_id"},
		{"peer_id 19 bytes", withPeer(strings.Repeat("p", 19)), "peer_id must be 20 bytes"},
		{"peer_id 21 bytes", withPeer(strings.Repeat("p", 21)), "peer_id must be 20 bytes"},
		{"peer_id bad escape", withPeer(strings.Repeat("p", 19) + "%%1"), "invalid percent-encoding in query"},
		{"missing port", noPort, "missing port"},
		{"port zero", noPort + "&port=0", "invalid port"},
		{"port 65536", noPort + "&port=65536", "invalid port"},
		{"port overflow", noPort + "&port=99999999999999999999999", "invalid port"},
		{"port negative", noPort + "&port=-1", "invalid port"},
		{"port empty", noPort + "&port=", "invalid port"},
		{"port non-numeric", noPort + "&port=http", "invalid port"},
		{"port hex", noPort + "&port=0x50", "invalid port"},
		{"port plus sign", noPort + "&port=+80", "invalid port"},
		{"port trailing space", noPort + "&port=80%20", "invalid port"},
		{"port bad escape", noPort + "&port=%3", "invalid percent-encoding in query"},
		{"missing left", noLeft, "missing left"},
		{"left negative", noLeft + "&left=-1", "negative left"},
		{"left very negative", noLeft + "&left=-99999999999999999999", "negative left"},
		{"left overflow", noLeft + "&left=9223372036854775808", "invalid left"},
		{"left exponent", noLeft + "&left=1e3", "invalid left"},
		{"left empty", noLeft + "&left=", "invalid left"},
		{"left lone minus", noLeft + "&left=-", "invalid left"},
		{"left double minus", noLeft + "&left=--1", "invalid left"},
		{"uploaded negative", baseQuery + "&uploaded=-5", "negative uploaded"},
		{"uploaded invalid", baseQuery + "&uploaded=5.0", "invalid uploaded"},
		{"downloaded negative", baseQuery + "&downloaded=-5", "negative downloaded"},
		{"downloaded invalid", baseQuery + "&downloaded=x", "invalid downloaded"},
		{"downloaded overflow", baseQuery + "&downloaded=18446744073709551616", "invalid downloaded"},
		{"numwant negative", baseQuery + "&numwant=-1", "negative numwant"},
		{"numwant invalid", baseQuery + "&numwant=lots", "invalid numwant"},
		{"numwant empty", baseQuery + "&numwant=", "invalid numwant"},
		{"numwant huge then junk", baseQuery + "&numwant=99999999999999999999999x", "invalid numwant"},
		{"event bad escape", baseQuery + "&event=%zz", "invalid percent-encoding in query"},
		{"key bad escape", baseQuery + "&key=%", "invalid percent-encoding in query"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var req tracker.AnnounceRequest
			err := ParseAnnounce(tt.query, &req)
			var te *tracker.Error
			if !errors.As(err, &te) {
				t.Fatalf("got error %v (%T), want *tracker.Error %q", err, err, tt.reason)
			}
			if te.Reason != tt.reason {
				t.Errorf("got reason %q, want %q", te.Reason, tt.reason)
			}
			checkNoEcho(t, te.Reason, tt.query)
		})
	}
}

// checkNoEcho fails if reason repeats any value from query, raw or decoded: the
// reason goes back to the client and into logs, and values carry peer data.
func checkNoEcho(t *testing.T, reason, query string) {
	t.Helper()
	for seg := range strings.SplitSeq(query, "&") {
		_, v, _ := strings.Cut(seg, "=")
		dec, err := url.QueryUnescape(v)
		if err != nil {
			dec = v
		}
		for _, s := range []string{v, dec} {
			if len(s) >= 4 && strings.Contains(reason, s) {
				t.Errorf("reason %q echoes query value %q", reason, s)
			}
		}
	}
}

// typicalQuery is a steady-state re-announce as the anacrolix client sends it,
// minus the ip parameters (those are allowed to allocate).
var typicalQuery = "compact=1&downloaded=1048576&info_hash=" + escHash +
	"&key=-123456&left=52428800&peer_id=" + escPeerID + "&port=42069&supportcrypto=1&uploaded=2097152&numwant=50"

func TestParseAnnounceAllocatesNothing(t *testing.T) {
	var req tracker.AnnounceRequest
	for _, q := range []string{
		typicalQuery,
		typicalQuery + "&passkey=" + testKey,
		typicalQuery + "&passkey=" + escapeAll([]byte(testKey), false),
		typicalQuery + "&passkey=" + strings.Repeat("k", 100),
	} {
		allocs := testing.AllocsPerRun(1000, func() {
			if err := ParseAnnounce(q, &req); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("ParseAnnounce(%.60q...) allocates %.1f times per call", q[len(typicalQuery):], allocs)
		}
	}
	// Rejecting a request must be as cheap as accepting one.
	bad := typicalQuery + "&port=0"
	allocs := testing.AllocsPerRun(1000, func() {
		if err := ParseAnnounce(bad, &req); err == nil {
			t.Fatal("port 0 accepted")
		}
	})
	if allocs != 0 {
		t.Errorf("rejecting an announce allocates %.1f times per call", allocs)
	}
}

func BenchmarkParseAnnounce(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(typicalQuery)))
	var req tracker.AnnounceRequest
	for b.Loop() {
		if err := ParseAnnounce(typicalQuery, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// hashN returns a distinct printable hash, so scrape queries stay short.
func hashN(n int) tracker.InfoHash {
	var h tracker.InfoHash
	copy(h[:], fmt.Sprintf("hash-%015d", n))
	return h
}

func scrapeQuery(hs ...tracker.InfoHash) string {
	segs := make([]string, len(hs))
	for i, h := range hs {
		segs[i] = "info_hash=" + url.QueryEscape(string(h[:]))
	}
	return strings.Join(segs, "&")
}

func TestParseScrape(t *testing.T) {
	many := func(n int) []tracker.InfoHash {
		hs := make([]tracker.InfoHash, n)
		for i := range hs {
			hs[i] = hashN(i)
		}
		return hs
	}
	// The longest legal scrape: 74 hashes with every byte escaped must still fit
	// under MaxLen, or the limit would reject honest clients.
	var fullyEscaped []string
	var sameHash []tracker.InfoHash
	for range 74 {
		fullyEscaped = append(fullyEscaped, "info_hash="+escapeAll(testHash[:], false))
		sameHash = append(sameHash, testHash)
	}

	tests := []struct {
		name   string
		query  string
		want   []tracker.InfoHash // appended after prefix
		reason string             // non-empty: expected error
	}{
		{"none", "", nil, ""},
		{"none with other params", "passkey=abc&&x=%zz", nil, ""},
		{"one", "info_hash=" + escHash, []tracker.InfoHash{testHash}, ""},
		{"several with duplicate", scrapeQuery(hashN(1), testHash, hashN(1)) + "&compact=1",
			[]tracker.InfoHash{hashN(1), testHash, hashN(1)}, ""},
		{"74", scrapeQuery(many(74)...), many(74), ""},
		{"74 fully escaped", strings.Join(fullyEscaped, "&"), sameHash, ""},
		{"75", scrapeQuery(many(75)...), nil, "too many info_hash values (max 74)"},
		{"wrong length", scrapeQuery(testHash) + "&info_hash=abc", nil, "info_hash must be 20 bytes"},
		{"empty value", "info_hash=", nil, "info_hash must be 20 bytes"},
		{"bad escape", "info_hash=" + strings.Repeat("a", 19) + "%zz", nil, "invalid percent-encoding in query"},
		{"too long", "info_hash=" + strings.Repeat("%41", 2731), nil, "query too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []tracker.InfoHash{hashN(999)}
			dst := make([]tracker.InfoHash, 1, 80)
			copy(dst, prefix)
			var key access.Key
			got, err := ParseScrape(tt.query, dst, 74, &key)
			if tt.reason != "" {
				var te *tracker.Error
				if !errors.As(err, &te) || te.Reason != tt.reason {
					t.Fatalf("got error %v, want reason %q", err, tt.reason)
				}
				if len(got) != 1 || got[0] != prefix[0] {
					t.Errorf("on error got dst %x, want it back unchanged", got)
				}
				checkNoEcho(t, te.Reason, tt.query)
				return
			}
			if err != nil {
				t.Fatalf("ParseScrape: %v", err)
			}
			want := append(prefix, tt.want...)
			if len(got) != len(want) {
				t.Fatalf("got %d hashes, want %d", len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Errorf("hash %d: got %x, want %x", i, got[i], want[i])
				}
			}
		})
	}
}

// The limit in the reason is the caller's, not a constant.
func TestParseScrapeReportsActualMax(t *testing.T) {
	var key access.Key
	_, err := ParseScrape(scrapeQuery(hashN(1), hashN(2), hashN(3)), nil, 2, &key)
	if err == nil || err.Error() != "too many info_hash values (max 2)" {
		t.Errorf("got %v, want the max of 2 in the reason", err)
	}
}

func TestParseScrapeAllocatesOnlyToGrow(t *testing.T) {
	q := scrapeQuery(hashN(1), hashN(2), hashN(3)) + "&passkey=" + testKey
	dst := make([]tracker.InfoHash, 0, 74)
	var key access.Key
	allocs := testing.AllocsPerRun(100, func() {
		var err error
		if dst, err = ParseScrape(q, dst[:0], 74, &key); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ParseScrape into a big enough dst allocates %.1f times", allocs)
	}
}

func TestParseURLData(t *testing.T) {
	for _, tc := range []struct {
		data string
		ip   string // "" for none
		err  error
	}{
		{"/announce", "", nil},
		{"/announce?", "", nil},
		{"/announce?ip=10.1.2.3", "10.1.2.3", nil},
		{"/announce?ipv6=fd00%3A%3A7&ip=10.1.2.3", "fd00::7", nil},
		{"/announce?ip=not-an-address", "", nil},
		{"/announce?passkey=abc&info_hash=ignored-over-udp", "", nil},
		{"/announce?ip=%zz", "", errBadEscape},
		{"/announce?x=" + strings.Repeat("a", MaxLen), "", errQueryTooLong},
	} {
		var req tracker.AnnounceRequest
		err := ParseURLData(tc.data, &req)
		if err != tc.err {
			t.Errorf("%.40q: err %v, want %v", tc.data, err, tc.err)
			continue
		}
		if got := req.IP; (tc.ip == "" && got.IsValid()) || (tc.ip != "" && got.String() != tc.ip) {
			t.Errorf("%.40q: ip %v, want %q", tc.data, got, tc.ip)
		}
		if req.InfoHash != (tracker.InfoHash{}) {
			t.Errorf("%.40q: URL data set the info-hash, which the binary announce carries", tc.data)
		}
	}
}

func TestParseScrapePasskey(t *testing.T) {
	for _, tc := range []struct {
		name, query string
		want        access.Key
	}{
		{"none", scrapeQuery(hashN(1)), access.Key{}},
		{"key", scrapeQuery(hashN(1)) + "&passkey=" + testKey, passkey(testKey)},
		{"key first", "passkey=" + testKey + "&" + scrapeQuery(hashN(1)), passkey(testKey)},
		{"key without hashes", "passkey=" + testKey, passkey(testKey)},
		{"bad key is none", scrapeQuery(hashN(1)) + "&passkey=a%zz", access.Key{}},
		{"too long is none", "passkey=" + strings.Repeat("k", access.MaxKeyLen+1), access.Key{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := passkey("stale")
			if _, err := ParseScrape(tc.query, nil, 74, &key); err != nil {
				t.Fatalf("ParseScrape: %v", err)
			}
			if key != tc.want {
				t.Errorf("key of length %d, want length %d", key.Len(), tc.want.Len())
			}
		})
	}
	// A refused scrape leaves no key behind from a previous request.
	key := passkey(testKey)
	if _, err := ParseScrape("info_hash=short", nil, 74, &key); err == nil || key.Len() != 0 {
		t.Errorf("bad scrape: err %v, key length %d; want an error and no key", err, key.Len())
	}
}

func TestPathKey(t *testing.T) {
	for _, tc := range []struct {
		path, endpoint, key string
		ok                  bool
	}{
		{"/" + testKey + "/announce", "announce", testKey, true},
		{"/" + testKey + "/scrape", "scrape", testKey, true},
		{"/x/announce", "announce", "x", true},
		{"/" + testKey + "/scrape", "announce", "", false},
		{"/announce", "announce", "", false},
		{"//announce", "announce", "", false},
		{"/a/b/announce", "announce", "", false},
		{"/" + testKey + "/announce/", "announce", "", false},
		{testKey + "/announce", "announce", "", false},
		{"", "announce", "", false},
	} {
		key, ok := PathKey(tc.path, tc.endpoint)
		if key != tc.key || ok != tc.ok {
			t.Errorf("PathKey(%q, %q) = %q, %v; want %q, %v", tc.path, tc.endpoint, key, ok, tc.key, tc.ok)
		}
	}
}

func TestParseURLDataPasskey(t *testing.T) {
	other := "00112233445566778899aabbccddeeff"
	for _, tc := range []struct {
		data string
		want access.Key
	}{
		{"/announce", access.Key{}},
		{"/" + testKey + "/announce", passkey(testKey)},
		{"/" + testKey + "/announce?ipv6=fd00::7", passkey(testKey)},
		{"/announce?passkey=" + testKey, passkey(testKey)},
		{"/" + testKey + "/announce?passkey=" + other, passkey(testKey)}, // the path wins, as over HTTP
		{"/" + escapeAll([]byte(testKey), false) + "/announce", passkey(testKey)},
		{"/" + testKey + "/scrape", access.Key{}},
		{"/a/" + testKey + "/announce", access.Key{}},
		{"/" + strings.Repeat("k", access.MaxKeyLen+1) + "/announce", access.Key{}},
		{"/bad-key/announce?passkey=" + testKey, access.Key{}}, // an unusable path key still wins
		{"/" + testKey + "%zz/announce", access.Key{}},
	} {
		var req tracker.AnnounceRequest
		if err := ParseURLData(tc.data, &req); err != nil {
			t.Errorf("%.50q: %v", tc.data, err)
			continue
		}
		if req.Passkey != tc.want {
			t.Errorf("%.50q: key of length %d, want length %d", tc.data, req.Passkey.Len(), tc.want.Len())
		}
	}
}

func TestParseURLDataAllocatesNothing(t *testing.T) {
	var req tracker.AnnounceRequest
	for _, data := range []string{"/announce", "/" + testKey + "/announce", "/announce?passkey=" + testKey} {
		allocs := testing.AllocsPerRun(1000, func() {
			if err := ParseURLData(data, &req); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("ParseURLData(%q) allocates %.1f times per call", data, allocs)
		}
	}
}
