package tracker_test

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// testConfig is the default tracker configuration, allowing two test networks.
func testConfig() tracker.Config {
	return tracker.Config{
		Interval:        30 * time.Minute,
		MinInterval:     15 * time.Minute,
		NumWantDefault:  50,
		NumWantMax:      200,
		ScrapeMax:       74,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")},
	}
}

// testPeerTimeout is the default peer timeout, 1.5 × the default interval.
const testPeerTimeout = 45 * time.Minute

func newTracker(cfg tracker.Config, o swarm.Opts) *tracker.Tracker {
	o.PeerTimeout = testPeerTimeout
	return tracker.New(cfg, swarm.New(o, clock.NewFake(time.Unix(0, 0))), nil)
}

var (
	hashA = tracker.InfoHash{1}
	hashB = tracker.InfoHash{2}
	src1  = netip.MustParseAddr("10.0.0.1")
	src2  = netip.MustParseAddr("10.0.0.2")
	src6  = netip.MustParseAddr("fd00::6")
)

func req(h tracker.InfoHash, port uint16, left int64, ev tracker.Event) *tracker.AnnounceRequest {
	return &tracker.AnnounceRequest{InfoHash: h, Port: port, Left: left, Event: ev, NumWant: -1}
}

func announce(t *testing.T, trk *tracker.Tracker, src netip.Addr, r *tracker.AnnounceRequest) tracker.AnnounceResponse {
	t.Helper()
	var resp tracker.AnnounceResponse
	if err := trk.Announce(src, r, swarm.AnyFamily, &resp); err != nil {
		t.Fatalf("announce: %v", err)
	}
	return resp
}

func TestAnnounceCountsAndPeers(t *testing.T) {
	trk := newTracker(testConfig(), swarm.Opts{})
	announce(t, trk, src1, req(hashA, 6881, 0, tracker.EventStarted))
	announce(t, trk, src6, req(hashA, 6882, 100, tracker.EventPaused))
	resp := announce(t, trk, netip.MustParseAddr("::ffff:10.0.0.2"), req(hashA, 6883, 100, tracker.EventNone))
	if resp.Complete != 1 || resp.Incomplete != 2 || resp.Downloaders != 1 {
		t.Errorf("counts: complete %d incomplete %d downloaders %d, want 1 2 1", resp.Complete, resp.Incomplete, resp.Downloaders)
	}
	if len(resp.Peers4) != 6 || len(resp.Peers6) != 18 {
		t.Errorf("peers: %d bytes IPv4, %d bytes IPv6, want one of each", len(resp.Peers4), len(resp.Peers6))
	}
	if resp.ExternalIP != src2 {
		t.Errorf("external ip %v, want the unmapped source %v", resp.ExternalIP, src2)
	}
	if resp.MinInterval != 15*time.Minute {
		t.Errorf("min interval %v", resp.MinInterval)
	}
}

func TestIntervalJitter(t *testing.T) {
	trk := newTracker(testConfig(), swarm.Opts{})
	seen := map[time.Duration]bool{}
	for range 50 {
		iv := announce(t, trk, src1, req(hashA, 6881, 1, 0)).Interval
		if iv < 27*time.Minute || iv > 33*time.Minute {
			t.Fatalf("interval %v outside 30m ±10%%", iv)
		}
		seen[iv] = true
	}
	if len(seen) < 5 {
		t.Errorf("interval barely varies: %v", seen)
	}
}

func TestNumWant(t *testing.T) {
	cfg := testConfig()
	cfg.NumWantDefault, cfg.NumWantMax = 3, 5
	trk := newTracker(cfg, swarm.Opts{})
	for i := range 10 {
		announce(t, trk, src1, req(hashA, uint16(7000+i), 1, 0))
	}
	for _, tc := range []struct{ numwant, want int }{{-1, 3}, {0, 0}, {2, 2}, {5, 5}, {1000, 5}} {
		r := req(hashA, 6881, 1, 0)
		r.NumWant = tc.numwant
		if got := len(announce(t, trk, src2, r).Peers4) / 6; got != tc.want {
			t.Errorf("numwant %d: got %d peers, want %d", tc.numwant, got, tc.want)
		}
	}
}

func TestAccess(t *testing.T) {
	trk := newTracker(testConfig(), swarm.Opts{})
	for _, tc := range []struct {
		src  string
		want bool
	}{
		{"10.1.2.3", true}, {"::ffff:10.1.2.3", true}, {"fd00::1", true},
		{"192.168.1.1", false}, {"8.8.8.8", false}, {"2001:db8::1", false},
	} {
		var resp tracker.AnnounceResponse
		err := trk.Announce(netip.MustParseAddr(tc.src), req(hashA, 6881, 1, 0), swarm.AnyFamily, &resp)
		if got := err == nil; got != tc.want {
			t.Errorf("%s: allowed=%v, want %v (err %v)", tc.src, got, tc.want, err)
		}
		if !tc.want && !errors.Is(err, tracker.ErrNotAllowed) {
			t.Errorf("%s: err %v, want ErrNotAllowed", tc.src, err)
		}
		if _, err := trk.Scrape(netip.MustParseAddr(tc.src), nil, []tracker.InfoHash{hashA}, nil); (err == nil) != tc.want {
			t.Errorf("%s scrape: err %v, want allowed=%v", tc.src, err, tc.want)
		}
	}
	if st := trk.Stats(); st.Refused != 6 {
		t.Errorf("refused %d, want 6", st.Refused)
	}
}

// peers decodes a reply's compact peers, both families.
func peers(resp tracker.AnnounceResponse) []netip.AddrPort {
	var out []netip.AddrPort
	for p := resp.Peers4; len(p) >= 6; p = p[6:] {
		out = append(out, netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[:4])), uint16(p[4])<<8|uint16(p[5])))
	}
	for p := resp.Peers6; len(p) >= 18; p = p[18:] {
		out = append(out, netip.AddrPortFrom(netip.AddrFrom16([16]byte(p[:16])), uint16(p[16])<<8|uint16(p[17])))
	}
	return out
}

func TestSourceAddr(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1", "10.0.0.1"},
		{"::ffff:10.0.0.1", "10.0.0.1"},
		{"fd00::1", "fd00::1"},
		{"fe80::1", "fe80::1"},
		{"fe80::1%eth0", "fe80::1"},
		{"fe80::1%3", "fe80::1"},
		{"ff02::1%wlan0", "ff02::1"},
	} {
		if got := tracker.SourceAddr(netip.MustParseAddr(tc.in)); got != netip.MustParseAddr(tc.want) || got.Zone() != "" {
			t.Errorf("SourceAddr(%s) = %v, want %s", tc.in, got, tc.want)
		}
	}
	if got := tracker.SourceAddr(netip.Addr{}); got.IsValid() {
		t.Errorf("SourceAddr(zero) = %v, want the zero Addr", got)
	}
}

// A link-local client is let in by fe80::/10 whatever interface it came in on, and
// is stored, handed out and told its address without the zone.
func TestLinkLocalSource(t *testing.T) {
	linkLocal := netip.MustParsePrefix("fe80::/10")
	for _, tc := range []struct {
		name    string
		allowed []netip.Prefix
		want    bool
	}{
		{"fe80::/10 allowed", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), linkLocal}, true},
		{"fe80::/10 not allowed", testConfig().AllowedNetworks, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowedNetworks = tc.allowed
			trk := newTracker(cfg, swarm.Opts{})
			zoned := netip.MustParseAddr("fe80::1%eth0")
			if got := trk.Allowed(zoned); got != tc.want {
				t.Errorf("Allowed(%v) = %v, want %v", zoned, got, tc.want)
			}
			var resp tracker.AnnounceResponse
			err := trk.Announce(zoned, req(hashA, 6881, 1, 0), swarm.AnyFamily, &resp)
			if (err == nil) != tc.want {
				t.Fatalf("announce from %v: err %v, want allowed=%v", zoned, err, tc.want)
			}
			if _, err := trk.Scrape(zoned, nil, []tracker.InfoHash{hashA}, nil); (err == nil) != tc.want {
				t.Errorf("scrape from %v: err %v, want allowed=%v", zoned, err, tc.want)
			}
			if !tc.want {
				return
			}
			if resp.ExternalIP != netip.MustParseAddr("fe80::1") {
				t.Errorf("external ip %v, want fe80::1 without a zone", resp.ExternalIP)
			}
			// The same host through another interface is the same peer, not a second.
			again := announce(t, trk, netip.MustParseAddr("fe80::1%wlan0"), req(hashA, 6881, 1, 0))
			if again.Incomplete != 1 {
				t.Errorf("one host through two interfaces counted %d times", again.Incomplete)
			}
			got := peers(announce(t, trk, src1, req(hashA, 6882, 1, 0)))
			if want := netip.MustParseAddrPort("[fe80::1]:6881"); len(got) != 1 || got[0] != want {
				t.Errorf("peers %v, want %v", got, want)
			}
		})
	}
}

func TestIPParam(t *testing.T) {
	everyone := []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	for _, tc := range []struct {
		name  string
		allow bool
		open  bool // every network allowed, so only what the address is can refuse it
		ip    string
		want  string
	}{
		{"ignored by default", false, false, "10.9.9.9", "10.0.0.1"},
		{"used when allowed", true, false, "10.9.9.9", "10.9.9.9"},
		{"IPv6 used when allowed", true, false, "fd00::9", "fd00::9"},
		{"mapped IPv4 unmapped", true, false, "::ffff:10.9.9.9", "10.9.9.9"},
		{"outside allowed networks", true, false, "8.8.8.8", "10.0.0.1"},
		{"unspecified", true, true, "0.0.0.0", "10.0.0.1"},
		{"IPv6 unspecified", true, true, "::", "10.0.0.1"},
		{"this network", true, true, "0.1.2.3", "10.0.0.1"},
		{"loopback", true, true, "127.0.0.1", "10.0.0.1"},
		{"other loopback", true, true, "127.9.9.9", "10.0.0.1"},
		{"mapped loopback", true, true, "::ffff:127.0.0.1", "10.0.0.1"},
		{"IPv6 loopback", true, true, "::1", "10.0.0.1"},
		{"multicast", true, true, "239.1.2.3", "10.0.0.1"},
		{"link-local multicast", true, true, "224.0.0.1", "10.0.0.1"},
		{"IPv6 link-local multicast", true, true, "ff02::1", "10.0.0.1"},
		{"IPv6 interface-local multicast", true, true, "ff01::1", "10.0.0.1"},
		{"IPv6 global multicast", true, true, "ff0e::1", "10.0.0.1"},
		{"broadcast", true, true, "255.255.255.255", "10.0.0.1"},
		{"public when open", true, true, "8.8.8.8", "8.8.8.8"},
		{"link-local unicast when open", true, true, "169.254.1.1", "169.254.1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowIPParam = tc.allow
			if tc.open {
				cfg.AllowedNetworks = everyone
			}
			trk := newTracker(cfg, swarm.Opts{})
			r := req(hashA, 6881, 1, 0)
			r.IP = netip.MustParseAddr(tc.ip)
			if resp := announce(t, trk, src1, r); resp.ExternalIP != src1 {
				t.Errorf("external ip %v, want the source %v whatever the claim", resp.ExternalIP, src1)
			}
			got := peers(announce(t, trk, src2, req(hashA, 6882, 1, 0)))
			if want := netip.AddrPortFrom(netip.MustParseAddr(tc.want), 6881); len(got) != 1 || got[0] != want {
				t.Errorf("peers %v, want only %v", got, want)
			}
		})
	}
}

// A stop takes effect only from the address it stops: an announce naming another
// address may add or refresh that entry, never remove it.
func TestStopBoundToSource(t *testing.T) {
	victim := netip.MustParseAddr("10.0.0.5")
	type step struct {
		src   netip.Addr
		ip    string // claimed address, "" for none
		event tracker.Event
		left  int64
	}
	for _, tc := range []struct {
		name  string
		steps []step
		want  []string // who a third host is given after the steps
	}{
		{"owner stops", []step{{victim, "", 0, 1}, {victim, "", tracker.EventStopped, 1}}, nil},
		{"owner stops naming itself", []step{{victim, "", 0, 1}, {victim, "10.0.0.5", tracker.EventStopped, 1}}, nil},
		{"another host cannot stop it", []step{{victim, "", 0, 1}, {src2, "10.0.0.5", tracker.EventStopped, 1}}, []string{"10.0.0.5:6881"}},
		{"nor can it over IPv6", []step{{victim, "", 0, 1}, {src6, "10.0.0.5", tracker.EventStopped, 1}}, []string{"10.0.0.5:6881"}},
		{"nor after refreshing it", []step{{victim, "", 0, 1}, {src2, "10.0.0.5", 0, 0}, {src2, "10.0.0.5", tracker.EventStopped, 0}}, []string{"10.0.0.5:6881"}},
		{"another host may add it", []step{{src2, "10.0.0.5", tracker.EventStarted, 1}}, []string{"10.0.0.5:6881"}},
		{"the named address stops what another added", []step{{src2, "10.0.0.5", tracker.EventStarted, 1}, {victim, "", tracker.EventStopped, 1}}, nil},
		{"an unusable claim stops the sender's own entry", []step{{src2, "", 0, 1}, {src2, "127.0.0.1", tracker.EventStopped, 1}}, nil},
		{"a claim outside the allowed networks stops the sender's own entry", []step{{src2, "", 0, 1}, {src2, "8.8.8.8", tracker.EventStopped, 1}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.AllowIPParam = true
			trk := newTracker(cfg, swarm.Opts{})
			for i, s := range tc.steps {
				r := req(hashA, 6881, s.left, s.event)
				if s.ip != "" {
					r.IP = netip.MustParseAddr(s.ip)
				}
				resp := announce(t, trk, s.src, r)
				if s.event == tracker.EventStopped && (len(resp.Peers4) != 0 || len(resp.Peers6) != 0) {
					t.Errorf("step %d: a stop was handed peers", i)
				}
				if s.event == tracker.EventStopped && resp.Interval == 0 {
					t.Errorf("step %d: a stop was not answered as an announce: %+v", i, resp)
				}
			}
			var want []netip.AddrPort
			for _, w := range tc.want {
				want = append(want, netip.MustParseAddrPort(w))
			}
			got := peers(announce(t, trk, netip.MustParseAddr("10.0.0.9"), req(hashA, 7000, 1, 0)))
			if len(got) != len(want) || (len(got) == 1 && got[0] != want[0]) {
				t.Errorf("after the steps a third host got %v, want %v", got, want)
			}
		})
	}
}

// Every cap and quota refuses with its own reason and a retry in; the announce
// that fills it, and known peers after, go through. Quotas count the source the
// announce came from.
func TestCapsGiveRetryIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   swarm.Opts
		second *tracker.AnnounceRequest
		reason string
	}{
		{"torrents", swarm.Opts{MaxTorrents: 1}, req(hashB, 6881, 1, 0), "tracker is full: too many torrents"},
		{"peers", swarm.Opts{MaxPeers: 1}, req(hashA, 6882, 1, 0), "tracker is full: too many peers"},
		{"swarm", swarm.Opts{MaxPeersPerTorrent: 1}, req(hashA, 6882, 1, 0), "this torrent's swarm is full"},
		{"source torrents", swarm.Opts{SourceMaxNewTorrents: 1}, req(hashB, 6881, 1, 0), "too many new torrents from your address; try again later"},
		{"source peers", swarm.Opts{SourceMaxPeers: 1}, req(hashA, 6882, 1, 0), "too many peers from your address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			trk := newTracker(testConfig(), tc.opts)
			announce(t, trk, src1, req(hashA, 6881, 1, 0))
			var resp tracker.AnnounceResponse
			err := trk.Announce(src1, tc.second, swarm.AnyFamily, &resp)
			var te *tracker.Error
			if !errors.As(err, &te) || te.RetryIn != 15*time.Minute || te.Reason != tc.reason {
				t.Errorf("err %#v, want %q with retry in 15m", err, tc.reason)
			}
			if !strings.HasPrefix(tc.name, "source") {
				return
			}
			// Another host is not held back by the first one's quota.
			announce(t, trk, src2, tc.second)
			if st := trk.Stats(); st.Swarm.QuotaTorrents+st.Swarm.QuotaPeers != 1 || st.Swarm.CapHits() != 1 {
				t.Errorf("stats %+v, want one quota refusal", st.Swarm)
			}
		})
	}
	trk := newTracker(testConfig(), swarm.Opts{MaxMemory: 1})
	var resp tracker.AnnounceResponse
	err := trk.Announce(src1, req(hashA, 6881, 1, 0), swarm.AnyFamily, &resp)
	if te := (*tracker.Error)(nil); !errors.As(err, &te) || te.Reason != "tracker is full: out of memory for new torrents and peers" || te.RetryIn <= 0 {
		t.Errorf("memory budget: err %#v", err)
	}
}

func TestScrape(t *testing.T) {
	trk := newTracker(testConfig(), swarm.Opts{})
	announce(t, trk, src1, req(hashA, 6881, 1, tracker.EventStarted))
	announce(t, trk, src1, req(hashA, 6881, 0, tracker.EventCompleted))
	announce(t, trk, src2, req(hashA, 6881, 5, tracker.EventPaused))
	got, err := trk.Scrape(src1, nil, []tracker.InfoHash{hashA, hashB}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []tracker.ScrapeEntry{
		{InfoHash: hashA, Complete: 1, Incomplete: 1, Downloaded: 1, Downloaders: 0},
		{InfoHash: hashB},
	}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("scrape %+v, want %+v", got, want)
	}
	if _, err := trk.Scrape(src1, nil, nil, nil); !errors.Is(err, tracker.ErrFullScrape) {
		t.Errorf("full scrape while disabled: err %v", err)
	}
	cfg := testConfig()
	cfg.FullScrape = true
	full := newTracker(cfg, swarm.Opts{})
	announce(t, full, src1, req(hashA, 6881, 1, 0))
	announce(t, full, src1, req(hashB, 6881, 1, 0))
	if got, err := collect(full); err != nil || len(got) != 2 {
		t.Errorf("full scrape: %v, %v", got, err)
	}
}

func TestStoppedGetsNoPeers(t *testing.T) {
	trk := newTracker(testConfig(), swarm.Opts{})
	announce(t, trk, src1, req(hashA, 6881, 1, 0))
	announce(t, trk, src2, req(hashA, 6881, 1, 0))
	resp := announce(t, trk, src2, req(hashA, 6881, 1, tracker.EventStopped))
	if len(resp.Peers4) != 0 || resp.Incomplete != 1 {
		t.Errorf("stopped: %d peer bytes, incomplete %d", len(resp.Peers4), resp.Incomplete)
	}
}
