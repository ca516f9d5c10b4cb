package udptracker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	anacrolix "github.com/anacrolix/torrent/tracker"
	"github.com/anacrolix/torrent/types/infohash"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// The torrents and member of the access tests; a key is as `swarmlight key add`
// makes them, 32 lowercase hex digits.
var (
	listedHash   = infohash.T{0x11, 0x57}
	unlistedHash = infohash.T{0xdd, 0x01}
)

const (
	memberKey = "5ec7e7a11ce0b0b5ca1ab1e5f00dcafe"
	wrongKey  = "0badc0de0badc0de0badc0de0badc0de"

	// keyURLData is BEP 41 URL data with a key in the path and another in the query.
	keyURLData = "/" + memberKey + "/announce?passkey=" + wrongKey
)

// accessControl is a real access.Control in mode over files in a temporary
// directory: an allow list holding listedHash, a key file whose one member holds
// memberKey, and clients as access.clients.
func accessControl(t testing.TB, mode string, clients ...string) *access.Control {
	t.Helper()
	dir := t.TempDir()
	digest := sha256.Sum256([]byte(memberKey))
	files := map[string]string{
		"allow.list": strings.ToUpper(listedHash.HexString()) + "\n",
		"deny.list":  "",
		"passkeys":   "alice " + hex.EncodeToString(digest[:]) + "\n",
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
	acc := access.New()
	if err := acc.Apply(access.Opts{Mode: m, AllowFile: filepath.Join(dir, "allow.list"),
		DenyFile: filepath.Join(dir, "deny.list"), KeyFile: filepath.Join(dir, "passkeys"), Clients: cl}); err != nil {
		t.Fatalf("apply %s: %v", mode, err)
	}
	return acc
}

// serveAccess runs a real UDP tracker on 127.0.0.1 that asks acc, until the test
// ends, and returns its address and its log.
func serveAccess(t *testing.T, acc *access.Control) (string, *privacytest.Output) {
	t.Helper()
	cfg := defaultTracker()
	trk := tracker.New(cfg, swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{}), acc)
	logs := new(privacytest.Output)
	s, err := New(frontConfig(cfg), trk, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), clock.Real{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := Listen("127.0.0.1:0", ListenConfig{Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return l.Addr().String(), logs
}

// udpStep is an announce or scrape by the anacrolix client, which sends the path
// and query of a udp:// URL as BEP 41 URL data, and the failure it must get.
type udpStep struct {
	name, path string // the URL's path and query: "/KEY/announce"
	scrape     bool
	hash       infohash.T
	peerID     string
	reason     string // "" for an answer
}

func runUDPSteps(t *testing.T, addr string, steps []udpStep) {
	t.Helper()
	for _, st := range steps {
		url := "udp://" + addr + st.path
		var err error
		if st.scrape {
			err = udpScrape(url, st.hash)
		} else {
			var id [20]byte
			copy(id[:], st.peerID)
			_, err = udpAnnounce(url, anacrolix.AnnounceRequest{InfoHash: st.hash, PeerId: id, Port: 51001, Event: anacrolix.Started, NumWant: -1})
		}
		switch {
		case st.reason == "" && err != nil:
			t.Errorf("%s: %v, want an answer", st.name, err)
		case st.reason != "" && (err == nil || !strings.Contains(err.Error(), st.reason)):
			t.Errorf("%s: error %v, want %q", st.name, err, st.reason)
		case err != nil && strings.Contains(err.Error(), memberKey) || err != nil && strings.Contains(err.Error(), wrongKey):
			t.Errorf("%s: the error reply holds a passkey: %v", st.name, err)
		}
	}
}

func udpScrape(url string, h infohash.T) error {
	cl, err := anacrolix.NewClient(url, anacrolix.NewClientOpts{Slogger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = cl.Scrape(ctx, []infohash.T{h})
	return err
}

const (
	notTracked = "torrent not tracked here"
	badKey     = "missing or invalid passkey"
	badClient  = "client not allowed here"
	anyClient  = "-TT0001-000000000001"
)

func TestAccessPrivateUDP(t *testing.T) {
	addr, logs := serveAccess(t, accessControl(t, "private"))
	runUDPSteps(t, addr, []udpStep{
		{name: "key in the path (BEP 41)", path: "/" + memberKey + "/announce", hash: listedHash, peerID: anyClient},
		{name: "key in the query", path: "/announce?passkey=" + memberKey, hash: listedHash, peerID: anyClient},
		{name: "no key", path: "/announce", hash: listedHash, peerID: anyClient, reason: badKey},
		{name: "wrong key", path: "/" + wrongKey + "/announce", hash: listedHash, peerID: anyClient, reason: badKey},
		{name: "the path wins", path: "/" + wrongKey + "/announce?passkey=" + memberKey, hash: listedHash, peerID: anyClient, reason: badKey},
		// A UDP scrape carries no URL data, so no key: refused in private mode.
		{name: "scrape", path: "/" + memberKey + "/announce", scrape: true, hash: listedHash, reason: badKey},
	})
	secrets := append(privacytest.Encodings([]byte(memberKey)), privacytest.Encodings([]byte(wrongKey))...)
	if found := privacytest.Find(logs.String(), secrets); len(found) > 0 {
		t.Errorf("the log holds a passkey: %v", found)
	}
}

func TestAccessListedUDP(t *testing.T) {
	addr, _ := serveAccess(t, accessControl(t, "private+listed", "-TT", "-qB"))
	runUDPSteps(t, addr, []udpStep{
		{name: "listed torrent", path: "/" + memberKey + "/announce", hash: listedHash, peerID: anyClient},
		{name: "unlisted torrent", path: "/" + memberKey + "/announce", hash: unlistedHash, peerID: anyClient, reason: notTracked},
		{name: "unlisted torrent, wrong key", path: "/" + wrongKey + "/announce", hash: unlistedHash, peerID: anyClient, reason: badKey},
		{name: "client not allowed", path: "/" + memberKey + "/announce", hash: listedHash, peerID: "-XX0001-000000000001", reason: badClient},
	})
}

// The checks on the announce path, a key's included, allocate nothing.
func TestAccessAnnounceAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	f := newFixture(t, nil)
	f.trk = tracker.New(defaultTracker(), swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, f.clock), accessControl(t, "private+listed", "-UT"))
	s, err := New(frontConfig(defaultTracker()), f.trk, slog.New(slog.DiscardHandler), f.clock)
	if err != nil {
		t.Fatal(err)
	}
	f.s, f.h = s, newHandler(s)
	url := []byte("/" + memberKey + "/announce")
	pkt := ann{connID: f.connect(src4), hash: tracker.InfoHash(listedHash), left: 1, port: 6881, numWant: 50,
		options: append([]byte{optURLData, byte(len(url))}, url...)}.packet()
	out := make([]byte, 0, packetLen)
	if r := f.h.handle(pkt, src4, out); len(r) < 20 || r[3] != actionAnnounce {
		t.Fatalf("announce with the member's key: reply %q", r)
	}
	if n := testing.AllocsPerRun(100, func() { f.h.handle(pkt, src4, out) }); n != 0 {
		t.Errorf("announce packet with a passkey allocates %.1f times", n)
	}
}
