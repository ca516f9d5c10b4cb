package httptracker

import (
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// The torrents and members of the access tests. A key is as `swarmlight key add`
// makes them: 32 lowercase hex digits.
const (
	listedHash   = "listed-torrent-00001"
	unlistedHash = "unlisted-torrent-002"
	memberKey    = "5ec7e7a11ce0b0b5ca1ab1e5f00dcafe"
	wrongKey     = "0badc0de0badc0de0badc0de0badc0de"
)

// accessControl is a real access.Control in mode, reading files in a temporary
// directory: an allow list of listed, a key file with the member holding key, and
// clients as access.clients. It returns the options applied, for a test to apply
// another mode over the same files.
func accessControl(t *testing.T, mode string, listed []string, key string, clients []string) (*access.Control, access.Opts) {
	t.Helper()
	dir := t.TempDir()
	var allow strings.Builder
	for _, h := range listed {
		allow.WriteString(hex.EncodeToString([]byte(h)) + " # a torrent\n")
	}
	digest := sha256.Sum256([]byte(key))
	files := map[string]string{
		"allow.list": allow.String(),
		"deny.list":  "",
		"passkeys":   "# members\nalice " + hex.EncodeToString(digest[:]) + "\n",
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := access.ParseMode(mode)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := access.ParseClients(clients)
	if err != nil {
		t.Fatal(err)
	}
	o := access.Opts{Mode: m, AllowFile: filepath.Join(dir, "allow.list"),
		DenyFile: filepath.Join(dir, "deny.list"), KeyFile: filepath.Join(dir, "passkeys"), Clients: cl}
	acc := access.New()
	if err := acc.Apply(o); err != nil {
		t.Fatalf("apply %s: %v", mode, err)
	}
	return acc, o
}

// announceQuery is an announce for hash from the client whose peer id is id.
func announceQuery(hash, id string) string {
	return "info_hash=" + url.QueryEscape(hash) + "&peer_id=" + url.QueryEscape(id) + "&port=6881&left=0"
}

// accessStep is one request of an access test and what it must get: a failure
// reason, or none.
type accessStep struct {
	name, target string
	reason       string // "" for an answer
}

func runAccessSteps(t *testing.T, addr string, steps []accessStep) {
	t.Helper()
	for _, st := range steps {
		status, body := getFrom(t, directHost, addr, st.target, "", nil)
		if status != 200 {
			t.Errorf("%s: status %d %q", st.name, status, body)
			continue
		}
		if found := privacytest.Find(string(body), []string{memberKey, wrongKey}); len(found) > 0 {
			t.Errorf("%s: the reply holds a passkey: %v", st.name, found)
		}
		d := decodeDict(t, body)
		reason, _ := d["failure reason"].(string)
		switch {
		case reason != st.reason:
			t.Errorf("%s: failure reason %q, want %q", st.name, reason, st.reason)
		case reason != "" && d["retry in"] != "never":
			t.Errorf("%s: retry in %v, want never", st.name, d["retry in"])
		}
	}
}

const (
	notTracked = "torrent not tracked here"
	badKey     = "missing or invalid passkey"
	badClient  = "client not allowed here"
)

func TestAccessListed(t *testing.T) {
	acc, _ := accessControl(t, "listed", []string{listedHash}, memberKey, nil)
	addr, _ := startFront(t, Config{}, acc, func(c *tracker.Config) { c.AllowIPParam = true })
	runAccessSteps(t, addr, []accessStep{
		{"listed torrent", "/announce?" + announceQuery(listedHash, "-TT0001-000000000001"), ""},
		{"unlisted torrent", "/announce?" + announceQuery(unlistedHash, "-TT0001-000000000001"), notTracked},
		{"unlisted torrent's stop", "/announce?" + announceQuery(unlistedHash, "-TT0001-000000000001") + "&event=stopped", notTracked},
		{"unlisted torrent's stop for another address", "/announce?" + announceQuery(unlistedHash, "-TT0001-000000000001") + "&event=stopped&ip=10.1.2.3", notTracked},
		{"a key changes nothing", "/" + memberKey + "/announce?" + announceQuery(unlistedHash, "-TT0001-000000000001"), notTracked},
		{"scrape", "/scrape?info_hash=" + url.QueryEscape(listedHash) + "&info_hash=" + url.QueryEscape(unlistedHash), ""},
	})
}

func TestAccessPrivate(t *testing.T) {
	acc, _ := accessControl(t, "private", nil, memberKey, nil)
	addr, logs := startFront(t, Config{}, acc, func(c *tracker.Config) { c.FullScrape = true })
	q := announceQuery(listedHash, "-TT0001-000000000001")
	sq := "info_hash=" + url.QueryEscape(listedHash)
	runAccessSteps(t, addr, []accessStep{
		{"key in the path", "/" + memberKey + "/announce?" + q, ""},
		{"key in the query", "/announce?" + q + "&passkey=" + memberKey, ""},
		{"no key", "/announce?" + q, badKey},
		{"no key, stop", "/announce?" + q + "&event=stopped", badKey},
		{"wrong key in the path", "/" + wrongKey + "/announce?" + q, badKey},
		{"wrong key in the query", "/announce?" + q + "&passkey=" + wrongKey, badKey},
		{"the path wins over the query", "/" + wrongKey + "/announce?" + q + "&passkey=" + memberKey, badKey},
		{"the path wins, right key", "/" + memberKey + "/announce?" + q + "&passkey=" + wrongKey, ""},
		{"malformed key", "/announce?" + q + "&passkey=" + memberKey + "-x", badKey},
		{"key too long", "/" + strings.Repeat(memberKey, 3) + "/announce?" + q, badKey},
		{"scrape with key in the path", "/" + memberKey + "/scrape?" + sq, ""},
		{"scrape with key in the query", "/scrape?" + sq + "&passkey=" + memberKey, ""},
		{"scrape without key", "/scrape?" + sq, badKey},
		{"scrape with wrong key", "/" + wrongKey + "/scrape?" + sq, badKey},
		{"full scrape without key", "/scrape", badKey},
		{"full scrape with wrong key", "/" + wrongKey + "/scrape", badKey},
		{"full scrape with key", "/" + memberKey + "/scrape", ""},
	})
	if status, _ := getFrom(t, directHost, addr, "/a/"+memberKey+"/announce?"+q, "", nil); status != 404 {
		t.Errorf("/a/KEY/announce: status %d, want 404", status)
	}
	// The member's key is in every URL above; none of the tracker's output may hold
	// it, nor the wrong one.
	secrets := append(privacytest.Encodings([]byte(memberKey)), privacytest.Encodings([]byte(wrongKey))...)
	if found := privacytest.Find(logs.String(), secrets); len(found) > 0 {
		t.Errorf("the log holds a passkey: %v", found)
	}
}

func TestAccessClients(t *testing.T) {
	acc, _ := accessControl(t, "open", nil, memberKey, []string{"-qB", "-TR"})
	addr, _ := startFront(t, Config{}, acc)
	runAccessSteps(t, addr, []accessStep{
		{"allowed client", "/announce?" + announceQuery(listedHash, "-qB4650-000000000001"), ""},
		{"other allowed client", "/announce?" + announceQuery(listedHash, "-TR4050-000000000001"), ""},
		{"client not on the list", "/announce?" + announceQuery(listedHash, "-TT0001-000000000001"), badClient},
	})
}

// A torrent the policy stops tracking while its swarm is still in the store is
// scraped as zero counts, and left out of a full scrape: a scrape must not tell
// which torrents the tracker holds beyond its list.
func TestAccessScrapeHidesUntracked(t *testing.T) {
	acc, o := accessControl(t, "open", []string{listedHash}, memberKey, nil)
	addr, _ := startFront(t, Config{}, acc, func(c *tracker.Config) { c.FullScrape = true })
	runAccessSteps(t, addr, []accessStep{
		{"listed torrent", "/announce?" + announceQuery(listedHash, "-TT0001-000000000001"), ""},
		{"other torrent, open mode", "/announce?" + announceQuery(unlistedHash, "-TT0001-000000000001"), ""},
	})
	files := func(target string) map[string]any {
		t.Helper()
		_, body := getFrom(t, directHost, addr, target, "", nil)
		f, ok := decodeDict(t, body)["files"].(map[string]any)
		if !ok {
			t.Fatalf("%s: no files in %q", target, body)
		}
		return f
	}
	both := "/scrape?info_hash=" + url.QueryEscape(listedHash) + "&info_hash=" + url.QueryEscape(unlistedHash)
	for _, f := range []map[string]any{files(both), files("/scrape")} {
		if len(f) != 2 {
			t.Fatalf("open mode: scrape %v, want both torrents", f)
		}
	}

	var err error
	if o.Mode, err = access.ParseMode("listed"); err != nil {
		t.Fatal(err)
	}
	if err := acc.Apply(o); err != nil {
		t.Fatal(err)
	}
	f := files(both)
	if c := f[unlistedHash].(map[string]any); c["complete"] != int64(0) || c["downloaded"] != int64(0) {
		t.Errorf("listed mode: the unlisted torrent scrapes as %v, want zero counts", c)
	}
	if c := f[listedHash].(map[string]any); c["complete"] != int64(1) {
		t.Errorf("listed mode: the listed torrent scrapes as %v, want its seeder", c)
	}
	if f := files("/scrape"); len(f) != 1 || f[listedHash] == nil {
		t.Errorf("listed mode: full scrape %v, want the listed torrent alone", f)
	}
}

// keepHeader is a ResponseWriter that discards the body and keeps one header map,
// so that counting a request's allocations counts the handler's own.
type keepHeader struct{ h http.Header }

func (k *keepHeader) Header() http.Header         { return k.h }
func (k *keepHeader) Write(p []byte) (int, error) { return len(p), nil }
func (k *keepHeader) WriteHeader(int)             {}

// A member's announce, key in the path or the query, checked against a key file,
// an allow list and a client list, costs no allocation more than an announce to
// an open tracker: setting the reply's headers is all either costs.
func TestAccessAddsNoAllocation(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	acc, _ := accessControl(t, "private+listed", []string{listedHash}, memberKey, []string{"-TT"})
	q := announceQuery(listedHash, "-TT0001-000000000001")
	allocs := func(acc *access.Control, target string) float64 {
		tc := tracker.Config{NumWantDefault: 50, NumWantMax: 50, AllowedNetworks: testProxies}
		trk := tracker.New(tc, swarm.New(swarm.Opts{}, clock.Real{}), acc)
		s := New(Config{TrustedProxies: testProxies}, trk, slog.New(slog.DiscardHandler))
		r := httptest.NewRequest("GET", target, nil)
		r.RemoteAddr = "10.9.0.1:40000"
		w := &keepHeader{h: http.Header{}}
		s.ServeHTTP(w, r)
		if w.h.Get("Content-Length") == "" {
			t.Fatalf("%s: no reply", target)
		}
		return testing.AllocsPerRun(100, func() { s.ServeHTTP(w, r) })
	}
	open := allocs(nil, "/announce?"+q)
	for _, target := range []string{"/" + memberKey + "/announce?" + q, "/announce?passkey=" + memberKey + "&" + q} {
		if n := allocs(acc, target); n > open {
			t.Errorf("%.40s...: %.1f allocations, %.1f in open mode", target, n, open)
		}
	}
}
