package appliance_test

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/bencode"
	anacrolix "github.com/anacrolix/torrent/tracker"
	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/catalog"
	"github.com/swarmlight/swarmlight/appliance/config"
)

// needsRestart is the keys a reload cannot apply, which the log and check-config
// name. It is empty: every key applies live. (tracker.peer_timeout applies live
// within 1/16 to 4 times the value the tracker started with; beyond, the log
// names it, see TestPeerTimeoutBeyondLiveRange.)
var needsRestart = map[string]bool{}

// keyEnv is what the probes of TestEveryKeyAppliesLive work with.
type keyEnv struct {
	t               *testing.T
	l               *live
	httpURL, udpURL string
	extra           string // a free address for new listeners
	dir             string
	fresh           int // for info-hashes never seen before
	allowA, allowB  string
	hashA, hashB    string
	keysA, keysB    string
	keyA, keyB      string
	swarmHash       string // a swarm of several peers, for numwant
	unlistedMode    access.Mode
	listedMode      access.Mode
	privateMode     access.Mode
	countBefore     int32
	keepAliveBefore net.Conn
}

func (e *keyEnv) freshHash() string {
	e.fresh++
	return fmt.Sprintf("fresh%015d", e.fresh)
}

// ann announces over HTTP from 127.0.0.1 with a fresh connection. Each peer id
// has a port of its own: from one address, the port tells peers apart.
func (e *keyEnv) ann(base, hash, peerID string, extra ...string) rawReply {
	port := strconv.Itoa(10000 + int(crc32.ChecksumIEEE([]byte(peerID))%50000))
	rr, err := tryGet(noKeepAlive, base+"?"+query(hash, peerID, port, append([]string{"left=1"}, extra...)...))
	if err != nil {
		e.t.Logf("announce: %v", err)
		return rawReply{FailureReason: "error: " + err.Error()}
	}
	return rr
}

var noKeepAlive = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}

func peerID(n int) string { return fmt.Sprintf("-KT0001-%012d", n) }

// keyCase changes one key and observes the change. ctx, if set, is a setting
// of other keys in which the change shows (the allow list's file matters only
// in listed mode); it is applied before the change, and the probe compares
// against it.
type keyCase struct {
	ctx    func(c *config.Config, e *keyEnv)
	before func(e *keyEnv) // once ctx is in force, before the change
	set    func(c *config.Config, e *keyEnv)
	probe  func(e *keyEnv) bool
}

// TestEveryKeyAppliesLive walks every key: each one is changed by a reload, to a
// different valid value, and the change is observed on the running tracker, or
// the key is in needsRestart. A key in neither fails the test.
func TestEveryKeyAppliesLive(t *testing.T) {
	dir := t.TempDir()
	e := &keyEnv{t: t, dir: dir, extra: freePort(t)}
	e.hashA, e.hashB = "listedhashAAAAAAAAAA", "listedhashBBBBBBBBBB"
	e.allowA, e.allowB = filepath.Join(dir, "a.list"), filepath.Join(dir, "b.list")
	writeFile(t, e.allowA, hex.EncodeToString([]byte(e.hashA))+"\n")
	writeFile(t, e.allowB, hex.EncodeToString([]byte(e.hashB))+"\n")
	e.keyA, e.keyB = "0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210"
	e.keysA, e.keysB = filepath.Join(dir, "a.keys"), filepath.Join(dir, "b.keys")
	writeFile(t, e.keysA, "alice "+sha256Hex(e.keyA)+"\n")
	writeFile(t, e.keysB, "bob "+sha256Hex(e.keyB)+"\n")
	var err error
	for _, m := range []struct {
		dst  *access.Mode
		text string
	}{{&e.unlistedMode, "unlisted"}, {&e.listedMode, "listed"}, {&e.privateMode, "private"}} {
		if *m.dst, err = access.ParseMode(m.text); err != nil {
			t.Fatal(err)
		}
	}
	clients, err := access.ParseClients([]string{"!-XX"})
	if err != nil {
		t.Fatal(err)
	}

	base := defaultConfig(t)
	base.HTTP.Listen = []string{"127.0.0.1:0"}
	base.UDP.Listen = []string{"127.0.0.1:0"}
	base.UDP.Workers = 1
	base.Panel.Mode = "sim"
	base.Access.AllowFile, base.Access.DenyFile, base.Access.KeyFile = e.allowA, e.allowA, e.keysA
	e.l = startLive(t, base)
	e.httpURL, e.udpURL = e.l.urls[0], e.l.urls[1]
	e.swarmHash = "numwantswarmhash0000"
	for i := range 5 {
		e.ann(e.httpURL, e.swarmHash, peerID(900+i))
	}
	udpPort := e.udpURL[strings.LastIndex(e.udpURL, ":")+1 : len(e.udpURL)-len("/announce")]
	panelIs := func(want func(config.Panel) bool) func(e *keyEnv) bool {
		return func(e *keyEnv) bool { p := e.l.panelCfg.Load(); return p != nil && want(*p) }
	}
	refused := func(rr rawReply) bool { return rr.FailureReason != "" }
	peersIn := func(rr rawReply) int { return len(rr.Peers) / 6 }

	cases := map[string]keyCase{
		"http.listen": {
			set:   func(c *config.Config, e *keyEnv) { c.HTTP.Listen = append(c.HTTP.Listen, e.extra) },
			probe: func(e *keyEnv) bool { return !refused(e.ann("http://"+e.extra+"/announce", e.freshHash(), peerID(1))) },
		},
		"http.read_header_timeout": {
			set: func(c *config.Config, e *keyEnv) { c.HTTP.ReadHeaderTimeout = time.Second },
			// A request whose header never ends is cut off after the new 1 s,
			// not the 5 s before.
			probe: func(e *keyEnv) bool {
				return closedWithin(e.httpURL, "GET /announce HTTP/1.1\r\nHost: x\r\n", 3*time.Second)
			},
		},
		"http.write_timeout": {
			// A connection kept alive from before the change is told to close
			// with its next reply: new connections are served under the new
			// timeouts, and old ones end.
			before: func(e *keyEnv) { e.keepAliveBefore = keptAlive(e) },
			set:    func(c *config.Config, e *keyEnv) { c.HTTP.WriteTimeout = 3 * time.Second },
			probe:  func(e *keyEnv) bool { return closesAfterReply(e, e.keepAliveBefore) },
		},
		"http.idle_timeout": {
			set:   func(c *config.Config, e *keyEnv) { c.HTTP.IdleTimeout = time.Second },
			probe: func(e *keyEnv) bool { return isClosedWithin(keptAlive(e), 3*time.Second) },
		},
		"http.max_header_bytes": {
			set: func(c *config.Config, e *keyEnv) { c.HTTP.MaxHeaderBytes = 4096 },
			probe: func(e *keyEnv) bool {
				req, _ := http.NewRequest("GET", e.httpURL+"?"+query(e.freshHash(), peerID(2), "6881"), nil)
				req.Header.Set("X-Padding", strings.Repeat("p", 8000))
				resp, err := noKeepAlive.Do(req)
				if err != nil {
					return false
				}
				resp.Body.Close()
				return resp.StatusCode == http.StatusRequestHeaderFieldsTooLarge
			},
		},
		"http.max_connections": {
			set:   func(c *config.Config, e *keyEnv) { c.HTTP.MaxConnections = 1 },
			probe: func(e *keyEnv) bool { return secondConnRefused(e.httpURL) },
		},
		"http.max_connections_per_source": {
			set:   func(c *config.Config, e *keyEnv) { c.HTTP.MaxConnectionsPerSource = 1 },
			probe: func(e *keyEnv) bool { return secondConnRefused(e.httpURL) },
		},
		"http.trusted_proxies": {
			// The proxy (loopback, now trusted) names the client: other peers
			// are given that address.
			set: func(c *config.Config, e *keyEnv) { c.HTTP.TrustedProxies = prefixes(t, "127.0.0.0/8") },
			probe: func(e *keyEnv) bool {
				h := e.freshHash()
				req, _ := http.NewRequest("GET", e.httpURL+"?"+query(h, peerID(3), "6881", "left=1"), nil)
				req.Header.Set("X-Forwarded-For", "10.20.30.40")
				resp, err := noKeepAlive.Do(req)
				if err != nil {
					return false
				}
				resp.Body.Close()
				rr := e.ann(e.httpURL, h, peerID(4), "compact=1")
				return len(rr.Peers) == 6 && net.IP(rr.Peers[:4]).Equal(net.IPv4(10, 20, 30, 40))
			},
		},
		"udp.listen": {
			set: func(c *config.Config, e *keyEnv) { c.UDP.Listen = append(c.UDP.Listen, e.extra) },
			probe: func(e *keyEnv) bool {
				_, err := announce("udp://"+e.extra+"/announce", anacrolix.AnnounceRequest{PeerId: [20]byte{'-', 'K', 'U'}, Port: 1, Event: anacrolix.Stopped})
				return err == nil
			},
		},
		"udp.workers": {
			set:   func(c *config.Config, e *keyEnv) { c.UDP.Workers = 3 },
			probe: func(e *keyEnv) bool { return len(udpSockets(t, udpPort)) == 3 },
		},
		"udp.read_buffer": {
			set:   func(c *config.Config, e *keyEnv) { c.UDP.ReadBuffer = 50000 },
			probe: func(e *keyEnv) bool { return sockopt(t, udpPort, unix.SO_RCVBUF) == 2*50000 },
		},
		"udp.write_buffer": {
			set:   func(c *config.Config, e *keyEnv) { c.UDP.WriteBuffer = 50000 },
			probe: func(e *keyEnv) bool { return sockopt(t, udpPort, unix.SO_SNDBUF) == 2*50000 },
		},
		"tracker.interval": {
			set:   func(c *config.Config, e *keyEnv) { c.Tracker.Interval = 3 * time.Minute },
			probe: func(e *keyEnv) bool { return near(e.ann(e.httpURL, e.freshHash(), peerID(4)).Interval, 3*time.Minute) },
		},
		"tracker.min_interval": {
			set:   func(c *config.Config, e *keyEnv) { c.Tracker.MinInterval = 7 * time.Minute },
			probe: func(e *keyEnv) bool { return e.ann(e.httpURL, e.freshHash(), peerID(5)).MinInterval == 7*60 },
		},
		"tracker.peer_timeout": {
			set: func(c *config.Config, e *keyEnv) { c.Tracker.PeerTimeout = 2 * base.Tracker.PeerTimeout },
			probe: func(e *keyEnv) bool {
				o := e.l.store.Load()
				return o != nil && o.PeerTimeout == 2*base.Tracker.PeerTimeout && !strings.Contains(e.l.logs.String(), "needs_restart")
			},
		},
		"tracker.torrent_retention": {
			// With no retention, a torrent whose last peer left is forgotten
			// with its download count.
			set: func(c *config.Config, e *keyEnv) { c.Tracker.TorrentRetention = 0 },
			probe: func(e *keyEnv) bool {
				h := e.freshHash()
				e.ann(e.httpURL, h, peerID(6), "event=completed", "left=0")
				e.ann(e.httpURL, h, peerID(6), "event=stopped", "left=0")
				return e.ann(e.httpURL, h, peerID(7), "left=1").Downloaded == 0
			},
		},
		"tracker.numwant_default": {
			set:   func(c *config.Config, e *keyEnv) { c.Tracker.NumWantDefault = 1 },
			probe: func(e *keyEnv) bool { return peersIn(e.ann(e.httpURL, e.swarmHash, peerID(8), "compact=1")) == 1 },
		},
		"tracker.numwant_max": {
			set: func(c *config.Config, e *keyEnv) { c.Tracker.NumWantMax = 2 },
			probe: func(e *keyEnv) bool {
				return peersIn(e.ann(e.httpURL, e.swarmHash, peerID(9), "compact=1", "numwant=50")) == 2
			},
		},
		"tracker.scrape_max": {
			set: func(c *config.Config, e *keyEnv) { c.Tracker.ScrapeMax = 1 },
			probe: func(e *keyEnv) bool {
				_, failure := scrapeFiles(e, e.swarmHash, "listedhashAAAAAAAAAA")
				return strings.HasPrefix(failure, "too many info_hash values")
			},
		},
		"tracker.full_scrape": {
			set: func(c *config.Config, e *keyEnv) { c.Tracker.FullScrape = true },
			probe: func(e *keyEnv) bool {
				n, failure := scrapeFiles(e)
				return failure == "" && n > 0
			},
		},
		"tracker.allow_ip_param": {
			set: func(c *config.Config, e *keyEnv) { c.Tracker.AllowIPParam = true },
			probe: func(e *keyEnv) bool {
				h := e.freshHash()
				e.ann(e.httpURL, h, peerID(10), "ip=10.9.8.7")
				rr := e.ann(e.httpURL, h, peerID(11), "compact=1")
				return len(rr.Peers) == 6 && net.IP(rr.Peers[:4]).Equal(net.IPv4(10, 9, 8, 7))
			},
		},
		"tracker.allowed_networks": {
			set:   func(c *config.Config, e *keyEnv) { c.Tracker.AllowedNetworks = prefixes(t, "10.0.0.0/8") },
			probe: func(e *keyEnv) bool { return refused(e.ann(e.httpURL, e.freshHash(), peerID(12))) },
		},
		"access.mode": {
			set: func(c *config.Config, e *keyEnv) { c.Access.Mode = e.listedMode },
			probe: func(e *keyEnv) bool {
				return e.ann(e.httpURL, e.freshHash(), peerID(13)).FailureReason == "torrent not tracked here"
			},
		},
		"access.allow_file": {
			ctx: func(c *config.Config, e *keyEnv) { c.Access.Mode, c.Access.AllowFile = e.listedMode, e.allowA },
			set: func(c *config.Config, e *keyEnv) { c.Access.AllowFile = e.allowB },
			probe: func(e *keyEnv) bool {
				return !refused(e.ann(e.httpURL, e.hashB, peerID(14))) && refused(e.ann(e.httpURL, e.hashA, peerID(14)))
			},
		},
		"access.deny_file": {
			ctx: func(c *config.Config, e *keyEnv) { c.Access.Mode, c.Access.DenyFile = e.unlistedMode, e.allowA },
			set: func(c *config.Config, e *keyEnv) { c.Access.DenyFile = e.allowB },
			probe: func(e *keyEnv) bool {
				return refused(e.ann(e.httpURL, e.hashB, peerID(15))) && !refused(e.ann(e.httpURL, e.hashA, peerID(15)))
			},
		},
		"access.key_file": {
			ctx: func(c *config.Config, e *keyEnv) { c.Access.Mode, c.Access.KeyFile = e.privateMode, e.keysA },
			set: func(c *config.Config, e *keyEnv) { c.Access.KeyFile = e.keysB },
			probe: func(e *keyEnv) bool {
				at := func(key string) string { return strings.Replace(e.httpURL, "/announce", "/"+key+"/announce", 1) }
				return !refused(e.ann(at(e.keyB), e.freshHash(), peerID(16))) && refused(e.ann(at(e.keyA), e.freshHash(), peerID(16)))
			},
		},
		"access.clients": {
			set: func(c *config.Config, e *keyEnv) { c.Access.Clients = clients },
			probe: func(e *keyEnv) bool {
				return e.ann(e.httpURL, e.freshHash(), "-XX0001-000000000017").FailureReason == "client not allowed here"
			},
		},
		"swarm.max_memory": {
			set: func(c *config.Config, e *keyEnv) { c.Swarm.MaxMemory = 8 << 20 },
			probe: func(e *keyEnv) bool {
				return e.l.trk.Load().Stats().Swarm.MemoryBudget == 8<<20
			},
		},
		"swarm.max_torrents": {
			set:   func(c *config.Config, e *keyEnv) { c.Swarm.MaxTorrents = 1 },
			probe: func(e *keyEnv) bool { return refused(e.ann(e.httpURL, e.freshHash(), peerID(18))) },
		},
		// A peer over a cap is answered but not stored.
		"swarm.max_peers": {
			set: func(c *config.Config, e *keyEnv) { c.Swarm.MaxPeers = 1 },
			probe: func(e *keyEnv) bool {
				h := e.freshHash()
				e.ann(e.httpURL, h, peerID(19))
				rr := e.ann(e.httpURL, h, peerID(20))
				return rr.Complete+rr.Incomplete == 0
			},
		},
		"swarm.max_peers_per_torrent": {
			set: func(c *config.Config, e *keyEnv) { c.Swarm.MaxPeersPerTorrent = 1 },
			probe: func(e *keyEnv) bool {
				h := e.freshHash()
				e.ann(e.httpURL, h, peerID(19))
				e.ann(e.httpURL, h, peerID(20))
				rr := e.ann(e.httpURL, h, peerID(19))
				return rr.Complete+rr.Incomplete == 1
			},
		},
		"swarm.source_max_new_torrents": {
			set: func(c *config.Config, e *keyEnv) { c.Swarm.SourceMaxNewTorrents = 1 },
			probe: func(e *keyEnv) bool {
				e.ann(e.httpURL, e.freshHash(), peerID(21))
				return refused(e.ann(e.httpURL, e.freshHash(), peerID(21)))
			},
		},
		"swarm.source_max_peers": {
			set: func(c *config.Config, e *keyEnv) { c.Swarm.SourceMaxPeers = 1 },
			probe: func(e *keyEnv) bool {
				h := e.freshHash()
				e.ann(e.httpURL, h, peerID(22))
				return refused(e.ann(e.httpURL, h, peerID(23)))
			},
		},
		"swarm.source_window": {
			// One new torrent per window: the second is refused, and a third,
			// after the new 1 s window, is not.
			ctx: func(c *config.Config, e *keyEnv) { c.Swarm.SourceMaxNewTorrents = 1 },
			set: func(c *config.Config, e *keyEnv) { c.Swarm.SourceWindow = time.Second },
			probe: func(e *keyEnv) bool {
				e.ann(e.httpURL, e.freshHash(), peerID(24))
				if !refused(e.ann(e.httpURL, e.freshHash(), peerID(24))) {
					return false
				}
				time.Sleep(1100 * time.Millisecond)
				return !refused(e.ann(e.httpURL, e.freshHash(), peerID(24)))
			},
		},
		"panel.mode": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.Mode = "off" },
			probe: panelIs(func(p config.Panel) bool { return p.Mode == "off" }),
		},
		"panel.name": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.Name = "lab-box" },
			probe: panelIs(func(p config.Panel) bool { return p.Name == "lab-box" }),
		},
		"panel.page_interval": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.PageInterval = 2 * time.Second },
			probe: panelIs(func(p config.Panel) bool { return p.PageInterval == 2*time.Second }),
		},
		"panel.sim_png": {
			set: func(c *config.Config, e *keyEnv) { c.Panel.SimPNG = filepath.Join(e.dir, "panel.png") },
			probe: func(e *keyEnv) bool {
				_, err := os.Stat(filepath.Join(e.dir, "panel.png"))
				return err == nil
			},
		},
		"panel.led_power": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.LEDPower = "sysfs:led0" },
			probe: panelIs(func(p config.Panel) bool { return p.LEDPower == "sysfs:led0" }),
		},
		"panel.led_activity": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.LEDActivity = "gpio:GPIO5" },
			probe: panelIs(func(p config.Panel) bool { return p.LEDActivity == "gpio:GPIO5" }),
		},
		"panel.led_swarm": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.LEDSwarm = "gpio:GPIO6:low" },
			probe: panelIs(func(p config.Panel) bool { return p.LEDSwarm == "gpio:GPIO6:low" }),
		},
		"panel.led_error": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.LEDError = "" },
			probe: panelIs(func(p config.Panel) bool { return p.LEDError == "" }),
		},
		"panel.button": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.Button = "GPIO24" },
			probe: panelIs(func(p config.Panel) bool { return p.Button == "GPIO24" }),
		},
		"panel.display": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.Display = false },
			probe: panelIs(func(p config.Panel) bool { return !p.Display }),
		},
		"panel.display_bus": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.DisplayBus = "3" },
			probe: panelIs(func(p config.Panel) bool { return p.DisplayBus == "3" }),
		},
		"panel.display_address": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.DisplayAddress = 0x3D },
			probe: panelIs(func(p config.Panel) bool { return p.DisplayAddress == 0x3D }),
		},
		"panel.display_height": {
			set:   func(c *config.Config, e *keyEnv) { c.Panel.DisplayHeight = 32 },
			probe: panelIs(func(p config.Panel) bool { return p.DisplayHeight == 32 }),
		},
		"log.level": {
			before: func(e *keyEnv) { e.countBefore = int32(strings.Count(e.l.logs.String(), "level=DEBUG")) },
			set:    func(c *config.Config, e *keyEnv) { c.Log.Level = slog.LevelDebug },
			probe: func(e *keyEnv) bool {
				// The tracker logs a refused request's reason at debug.
				e.ann(e.httpURL, "", peerID(25))
				return int32(strings.Count(e.l.logs.String(), "level=DEBUG")) > e.countBefore
			},
		},
		"log.format": {
			set: func(c *config.Config, e *keyEnv) { c.Log.Format = "json" },
			probe: func(e *keyEnv) bool {
				return strings.Contains(e.l.logs.String(), `"msg":"reload: configuration reloaded"`)
			},
		},
		"process.lock_memory": {
			before: func(e *keyEnv) { e.countBefore = e.l.unlock.Load() },
			set:    func(c *config.Config, e *keyEnv) { c.Process.LockMemory = false },
			probe:  func(e *keyEnv) bool { return e.l.unlock.Load() > e.countBefore },
		},
		// The status page's keys show in what the tracker's HTTP port serves.
		"web.enabled": {
			set:   func(c *config.Config, e *keyEnv) { c.Web.Enabled = false },
			probe: func(e *keyEnv) bool { return webStatus(e, "/stats.json") == 404 && webStatus(e, "/metrics") == 200 },
		},
		"web.metrics": {
			set:   func(c *config.Config, e *keyEnv) { c.Web.Metrics = false },
			probe: func(e *keyEnv) bool { return webStatus(e, "/metrics") == 404 && webStatus(e, "/stats.json") == 200 },
		},
		"web.refresh": {
			set:   func(c *config.Config, e *keyEnv) { c.Web.Refresh = 2 * time.Second },
			probe: func(e *keyEnv) bool { return strings.Contains(webBody(e, "/"), "Figures update every 2s.") },
		},
		// The responder (re)starts with the setting: it says so under the name
		// it answers for, whether or not this host lets it have port 5353 (that
		// it answers is cmd/swarmlight's TestMDNSInNamespace).
		"mdns.responder": {
			before: func(e *keyEnv) { e.countBefore = int32(strings.Count(e.l.logs.String(), `msg="mdns: `)) },
			set:    func(c *config.Config, e *keyEnv) { c.MDNS.Responder, c.MDNS.Name = true, "probe-on" },
			probe: func(e *keyEnv) bool {
				return int32(strings.Count(e.l.logs.String(), `msg="mdns: `)) > e.countBefore &&
					strings.Contains(e.l.logs.String(), "name=probe-on.local")
			},
		},
		"mdns.name": {
			ctx:   func(c *config.Config, e *keyEnv) { c.MDNS.Responder, c.MDNS.Name = true, "probe-a" },
			set:   func(c *config.Config, e *keyEnv) { c.MDNS.Name = "probe-b" },
			probe: func(e *keyEnv) bool { return strings.Contains(e.l.logs.String(), "name=probe-b.local") },
		},
		// In listed mode the shelf's torrents are tracked: each catalog key shows
		// in whether an announce for a shelved torrent is let in (catalog_test.go).
		"catalog.enabled": {
			ctx: func(c *config.Config, e *keyEnv) {
				c.Access.Mode, c.Catalog = e.listedMode, shelfDir(e.t, e.dir, "on.iso", 4)
				c.Catalog.Enabled = false
			},
			set:   func(c *config.Config, e *keyEnv) { c.Catalog.Enabled = true },
			probe: func(e *keyEnv) bool { return !refused(e.ann(e.httpURL, shelvedHash(e.t, "on.iso", 4), peerID(40))) },
		},
		"catalog.dir": {
			ctx: func(c *config.Config, e *keyEnv) {
				c.Access.Mode, c.Catalog = e.listedMode, shelfDir(e.t, e.dir, "a.iso", 4)
			},
			set: func(c *config.Config, e *keyEnv) { c.Catalog.Dir = shelfDir(e.t, e.dir, "b.iso", 4).Dir },
			probe: func(e *keyEnv) bool {
				return !refused(e.ann(e.httpURL, shelvedHash(e.t, "b.iso", 4), peerID(41))) &&
					refused(e.ann(e.httpURL, shelvedHash(e.t, "a.iso", 4), peerID(41)))
			},
		},
		"catalog.max_torrent_size": {
			// A 100-piece torrent is over 2 KiB: left off the shelf at 1 KiB.
			ctx: func(c *config.Config, e *keyEnv) {
				c.Access.Mode, c.Catalog = e.listedMode, shelfDir(e.t, e.dir, "big.iso", 100)
				c.Catalog.MaxTorrentSize = 1024
			},
			set:   func(c *config.Config, e *keyEnv) { c.Catalog.MaxTorrentSize = 64 << 10 },
			probe: func(e *keyEnv) bool { return !refused(e.ann(e.httpURL, shelvedHash(e.t, "big.iso", 100), peerID(42))) },
		},
		"catalog.upload_key": {
			// Before, loopback uploads with any key; after, only with the new one.
			ctx: func(c *config.Config, e *keyEnv) {
				e.t.Cleanup(appliance.SetCatalogHook(func(s *catalog.Shelf) { liveShelf.Store(s) }))
				c.Catalog = shelfDir(e.t, e.dir, "up.iso", 4)
			},
			set: func(c *config.Config, e *keyEnv) { c.Catalog.UploadKey = "probekey" },
			probe: func(e *keyEnv) bool {
				b, _ := testTorrent(e.t, "uploaded.iso", 2)
				h := liveShelf.Load().Handler()
				return uploadTo(e.t, h, b, "wrong") == http.StatusForbidden && uploadTo(e.t, h, b, "probekey") == http.StatusCreated
			},
		},
	}

	for _, key := range config.Keys() {
		tc, ok := cases[key]
		switch {
		case needsRestart[key] && ok:
			t.Errorf("%s: both in the table of live keys and in needsRestart", key)
			continue
		case needsRestart[key]:
			continue
		case !ok:
			t.Errorf("%s: neither shown to apply live nor named as needing a restart", key)
			continue
		}
		t.Run(key, func(t *testing.T) {
			e.t = t
			cur := base
			if tc.ctx != nil {
				tc.ctx(&cur, e)
				if !e.l.reload(cur, nil) {
					t.Fatalf("the context was refused:\n%s", e.l.logs)
				}
			}
			if tc.before != nil {
				tc.before(e)
			}
			next := cur
			tc.set(&next, e)
			if !e.l.reload(next, nil) {
				t.Fatalf("refused:\n%s", e.l.logs)
			}
			if !eventually(func() bool { return tc.probe(e) }) {
				t.Errorf("the new value did not take effect")
			}
			if !e.l.reload(base, nil) {
				t.Fatalf("going back was refused:\n%s", e.l.logs)
			}
		})
	}
	for key := range cases {
		if !contains(config.Keys(), key) {
			t.Errorf("%s: in the table but not a key", key)
		}
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func sha256Hex(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func prefixes(t *testing.T, s ...string) []netip.Prefix {
	t.Helper()
	var ps []netip.Prefix
	for _, x := range s {
		p, err := netip.ParsePrefix(x)
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	return ps
}

// hostOf is the host:port of an announce URL.
func hostOf(u string) string {
	u = u[strings.Index(u, "://")+3:]
	return u[:strings.IndexByte(u, '/')]
}

// closedWithin sends a request head that never ends and reports whether the
// server closes the connection before d.
func closedWithin(u, head string, d time.Duration) bool {
	c, err := net.Dial("tcp", hostOf(u))
	if err != nil {
		return false
	}
	defer c.Close()
	c.Write([]byte(head))
	return isClosedWithin(c, d)
}

func isClosedWithin(c net.Conn, d time.Duration) bool {
	if c == nil {
		return false
	}
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	ne, timeout := err.(net.Error)
	return !(timeout && ne.Timeout())
}

func isClosed(c net.Conn) bool { return isClosedWithin(c, 200*time.Millisecond) }

// closesAfterReply asks once more on c and reports whether the reply closes it.
func closesAfterReply(e *keyEnv, c net.Conn) bool {
	if c == nil {
		return false
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET /announce?%s HTTP/1.1\r\nHost: x\r\n\r\n", query(e.freshHash(), peerID(30), "6881"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Close && resp.StatusCode == http.StatusOK
}

// keptAlive is a connection that has had one request answered and is kept
// open.
func keptAlive(e *keyEnv) net.Conn {
	c, err := net.Dial("tcp", hostOf(e.httpURL))
	if err != nil {
		return nil
	}
	fmt.Fprintf(c, "GET /announce?%s HTTP/1.1\r\nHost: x\r\n\r\n", query(e.freshHash(), peerID(30), "6881"))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		c.Close()
		return nil
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return c
}

// secondConnRefused holds one connection open and reports whether a second is
// refused.
func secondConnRefused(u string) bool {
	first, err := net.Dial("tcp", hostOf(u))
	if err != nil {
		return false
	}
	defer first.Close()
	time.Sleep(50 * time.Millisecond) // accepted and counted
	resp, err := noKeepAlive.Get(u)
	if err != nil {
		return true
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusServiceUnavailable
}

// scrapeFiles scrapes the hashes over HTTP and counts the torrents answered, or
// returns the failure reason.
func scrapeFiles(e *keyEnv, hashes ...string) (int, string) {
	u := strings.Replace(e.httpURL, "/announce", "/scrape", 1)
	var q []string
	for _, h := range hashes {
		q = append(q, "info_hash="+url.QueryEscape(h))
	}
	resp, err := noKeepAlive.Get(u + "?" + strings.Join(q, "&"))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var sr struct {
		Files         map[string]any `bencode:"files"`
		FailureReason string         `bencode:"failure reason"`
	}
	if err := bencode.Unmarshal(b, &sr); err != nil {
		return 0, err.Error()
	}
	return len(sr.Files), sr.FailureReason
}

// udpSockets finds this process's UDP sockets on port, as file descriptors,
// by asking each socket it has open (not /proc/net/udp, which shows the network
// namespace of the main thread, and another test may have moved that).
func udpSockets(t *testing.T, port string) []int {
	p, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("no /proc/self/fd: %v", err)
	}
	var fds []int
	for _, ent := range ents {
		fd, _ := strconv.Atoi(ent.Name())
		if target, err := os.Readlink("/proc/self/fd/" + ent.Name()); err != nil || !strings.HasPrefix(target, "socket:") {
			continue
		}
		if typ, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TYPE); err != nil || typ != unix.SOCK_DGRAM {
			continue
		}
		switch sa, _ := unix.Getsockname(fd); sa := sa.(type) {
		case *unix.SockaddrInet4:
			if sa.Port == p {
				fds = append(fds, fd)
			}
		}
	}
	return fds
}

// sockopt is the socket option opt of the UDP sockets on port, when they all
// agree, else -1.
func sockopt(t *testing.T, port string, opt int) int {
	v := -1
	for _, fd := range udpSockets(t, port) {
		n, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, opt)
		if err != nil || v != -1 && n != v {
			return -1
		}
		v = n
	}
	return v
}

// TestPeerTimeoutBeyondLiveRange: a peer timeout a reload cannot apply is
// named as needing a restart, while the rest of the reload applies and no
// swarm is emptied.
func TestPeerTimeoutBeyondLiveRange(t *testing.T) {
	cfg := defaultConfig(t)
	cfg.HTTP.Listen = []string{"127.0.0.1:0"}
	cfg.Panel.Mode = "off"
	l := startLive(t, cfg)
	u := l.urls[0] + "?" + query("peertimeoutbeyond000", "-PT0001-000000000001", "6881", "left=0")
	if rr := get(t, "", u); rr.Complete != 1 {
		t.Fatalf("first announce: %+v", rr)
	}
	next := cfg
	next.Tracker.PeerTimeout = 10 * cfg.Tracker.PeerTimeout
	next.Tracker.Interval = 3 * time.Minute
	if !l.reload(next, nil) {
		t.Fatalf("refused:\n%s", l.logs)
	}
	if logs := l.logs.String(); !strings.Contains(logs, "needs_restart=tracker.peer_timeout") {
		t.Errorf("the log does not name tracker.peer_timeout as needing a restart:\n%s", logs)
	}
	if _, ok := appliance.RestartNotes()["tracker.peer_timeout"]; !ok {
		t.Error("check-config has no note for tracker.peer_timeout")
	}
	rr := get(t, "", u)
	if !near(rr.Interval, 3*time.Minute) || rr.Complete != 1 {
		t.Errorf("after the reload: %+v, want the new interval and the seeder still there", rr)
	}
}

// webStatus and webBody GET path from the tracker's HTTP port, for the web.*
// probes.
func webStatus(e *keyEnv, path string) int {
	resp, err := noKeepAlive.Get(strings.TrimSuffix(e.httpURL, "/announce") + path)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func webBody(e *keyEnv, path string) string {
	resp, err := noKeepAlive.Get(strings.TrimSuffix(e.httpURL, "/announce") + path)
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
