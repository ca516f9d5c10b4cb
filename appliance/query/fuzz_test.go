package query

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// knownReasons is every reason the parsers may give. Checking membership (rather
// than "does not contain the input") proves no reason can ever carry peer data.
var knownReasons = map[string]bool{}

func init() {
	for _, e := range []*tracker.Error{
		errQueryTooLong, errBadEscape, errMissingInfoHash, errInfoHashLen, errRepeatedInfoHash,
		errMissingPeerID, errPeerIDLen, errMissingPort, errInvalidPort, errMissingLeft,
		errInvalidLeft, errNegativeLeft, errInvalidUploaded, errNegativeUploaded,
		errInvalidDownload, errNegativeDownload, errInvalidNumWant, errNegativeNumWant,
		tooManyHashes(fuzzScrapeMax),
	} {
		knownReasons[e.Reason] = true
	}
}

const fuzzScrapeMax = 74

var eventNames = map[tracker.Event]string{
	tracker.EventCompleted: "completed",
	tracker.EventStarted:   "started",
	tracker.EventStopped:   "stopped",
	tracker.EventPaused:    "paused",
}

// refValues decodes every value of name with net/url, an independent
// implementation of the same escaping rules.
func refValues(query, name string) ([]string, error) {
	var vs []string
	for seg := range strings.SplitSeq(query, "&") {
		n, v, _ := strings.Cut(seg, "=")
		if n != name {
			continue
		}
		d, err := url.QueryUnescape(v)
		if err != nil {
			return nil, err
		}
		vs = append(vs, d)
	}
	return vs, nil
}

// encodeAnnounce renders req as a query. The key is passed in because only its
// hash survives parsing, and so is the passkey, which Key does not give back.
func encodeAnnounce(req *tracker.AnnounceRequest, key, passkey string) string {
	q := url.Values{}
	q.Set("info_hash", string(req.InfoHash[:]))
	q.Set("peer_id", string(req.PeerID[:]))
	q.Set("port", strconv.Itoa(int(req.Port)))
	q.Set("uploaded", strconv.FormatInt(req.Uploaded, 10))
	q.Set("downloaded", strconv.FormatInt(req.Downloaded, 10))
	q.Set("left", strconv.FormatInt(req.Left, 10))
	if name, ok := eventNames[req.Event]; ok {
		q.Set("event", name)
	}
	if req.NumWant >= 0 {
		q.Set("numwant", strconv.Itoa(req.NumWant))
	}
	if req.HasKey {
		q.Set("key", key)
	}
	if req.IP.IsValid() {
		q.Set("ip", req.IP.String())
	}
	if req.Passkey.Len() > 0 {
		q.Set("passkey", passkey)
	}
	return q.Encode()
}

func checkReason(t *testing.T, err error) {
	t.Helper()
	var te *tracker.Error
	if !errors.As(err, &te) {
		t.Fatalf("error %v is a %T, not a *tracker.Error", err, err)
	}
	if !knownReasons[te.Reason] {
		t.Fatalf("unexpected reason %q", te.Reason)
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, q := range []string{
		baseQuery,
		typicalQuery,
		anacrolixQuery(testHash, testPeerID, -1),
		baseQuery + "&uploaded=9223372036854775807&downloaded=0&event=paused&numwant=999999999999999999999&key=ABCD&ip=::ffff:1.2.3.4",
		baseQuery + "&ipv6=fe80::1%25eth0&ip=%zz&event=st%61rted&key=%41+",
		"info_hash=" + escapeAll(testHash[:], true) + "&peer_id=" + escapeAll(testPeerID[:], false) + "&port=%36&left=-0",
		scrapeQuery(hashN(1), hashN(2), testHash),
		scrapeQuery(hashN(1)) + "&info_hash=short",
		"", "&", "=", "&&=&", "%", "+", "info_hash", "info_hash=", "info_hash=%", "info_hash=%%%%",
		"info_hash=%zz&peer_id=%", "port=65536", "left=-", "numwant=-1", "key=%4",
		baseQuery + "&info_hash=" + escHash,
		baseQuery + "&port=0",
		baseQuery + "&left=9223372036854775808",
		scrapeQuery(hashN(7), hashN(7), hashN(8)),
		baseQuery + "&passkey=" + testKey + "&passkey=%4",
		scrapeQuery(hashN(1)) + "&passkey=%41b",
		// Seeds stay small on purpose: the fuzzer minimizes every new interesting
		// input for up to a minute, and multi-kilobyte mutants stall it for most of
		// a short run. Length limits are covered by the table tests.
	} {
		f.Add(q)
	}

	f.Fuzz(func(t *testing.T, q string) {
		fuzzAnnounce(t, q)
		fuzzScrape(t, q)
	})
}

func fuzzAnnounce(t *testing.T, q string) {
	var req tracker.AnnounceRequest
	if err := ParseAnnounce(q, &req); err != nil {
		checkReason(t, err)
		return
	}
	if req.Port == 0 || req.Left < 0 || req.Uploaded < 0 || req.Downloaded < 0 || req.NumWant < -1 {
		t.Fatalf("accepted an out-of-range request %+v", req)
	}
	if req.IP.IsValid() && (req.IP.Is4In6() || req.IP.Zone() != "") {
		t.Fatalf("IP %v is mapped or zoned", req.IP)
	}

	// Cross-check the hand-rolled decoder against net/url.
	hashes, err := refValues(q, "info_hash")
	if err != nil || len(hashes) != 1 || hashes[0] != string(req.InfoHash[:]) {
		t.Fatalf("info_hash %x disagrees with net/url: %q, %v", req.InfoHash, hashes, err)
	}
	keys, err := refValues(q, "key")
	if err != nil || req.HasKey != (len(keys) > 0) {
		t.Fatalf("HasKey %v disagrees with net/url: %q, %v", req.HasKey, keys, err)
	}
	var key string
	if req.HasKey {
		key = keys[len(keys)-1]
		if fnv32a(key) != req.Key {
			t.Fatalf("key hash %#x is not FNV-1a of the last key value", req.Key)
		}
	}

	// The last passkey= is the key if it is a usable one; anything else is none,
	// never a failure.
	var pk string
	if pks, err := refValues(q, "passkey"); err == nil && len(pks) > 0 {
		pk = pks[len(pks)-1]
	}
	var want access.Key
	want.Set(pk)
	if req.Passkey != want {
		t.Fatalf("passkey of length %d, want length %d", req.Passkey.Len(), want.Len())
	}

	again := encodeAnnounce(&req, key, pk)
	if len(again) > MaxLen {
		// Re-escaping can triple a value that arrived raw ("]" becomes "%5D"), so a
		// request near the limit may not survive the trip; that says nothing about
		// the parser.
		return
	}
	var req2 tracker.AnnounceRequest
	if err := ParseAnnounce(again, &req2); err != nil {
		t.Fatalf("re-encoded request %q does not parse: %v", again, err)
	}
	if req2 != req {
		t.Fatalf("round trip changed the request\nfirst  %+v\nsecond %+v", req, req2)
	}
}

func fuzzScrape(t *testing.T, q string) {
	var key access.Key
	hs, err := ParseScrape(q, nil, fuzzScrapeMax, &key)
	if err != nil {
		checkReason(t, err)
		if len(hs) != 0 {
			t.Fatalf("error but %d hashes appended", len(hs))
		}
		return
	}
	if len(hs) > fuzzScrapeMax {
		t.Fatalf("accepted %d hashes, max %d", len(hs), fuzzScrapeMax)
	}
	ref, err := refValues(q, "info_hash")
	if err != nil || len(ref) != len(hs) {
		t.Fatalf("got %d hashes, net/url sees %d (%v)", len(hs), len(ref), err)
	}
	for i := range hs {
		if ref[i] != string(hs[i][:]) {
			t.Fatalf("hash %d: %x, net/url %x", i, hs[i], ref[i])
		}
	}
	if len(hs) == 0 {
		return
	}
	hs2, err := ParseScrape(scrapeQuery(hs...), nil, fuzzScrapeMax, &key)
	if err != nil || len(hs2) != len(hs) {
		t.Fatalf("round trip: %d hashes then %d (%v)", len(hs), len(hs2), err)
	}
	for i := range hs {
		if hs[i] != hs2[i] {
			t.Fatalf("round trip changed hash %d", i)
		}
	}
}
