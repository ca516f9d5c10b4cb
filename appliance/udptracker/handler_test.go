package udptracker

import (
	"bytes"
	"encoding/binary"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

var (
	src4  = netip.MustParseAddrPort("10.0.0.1:40001")
	src4b = netip.MustParseAddrPort("10.0.0.2:40002")
	src6  = netip.MustParseAddrPort("[fd00::1]:40003")
	src6b = netip.MustParseAddrPort("[fd00::2]:40004")
	// A dual-stack socket sees an IPv4 client as a mapped address.
	src4mapped = netip.MustParseAddrPort("[::ffff:10.0.0.3]:40005")
	hashA      = tracker.InfoHash{'a'}
	hashB      = tracker.InfoHash{'b'}
)

type fixture struct {
	t     testing.TB
	clock *clock.Fake
	trk   *tracker.Tracker
	s     *Server
	h     *handler
}

// defaultTracker is the default tracker configuration (configs/swarmlight.yaml).
func defaultTracker() tracker.Config {
	return tracker.Config{
		Interval:       30 * time.Minute,
		MinInterval:    15 * time.Minute,
		NumWantDefault: 50,
		NumWantMax:     200,
		ScrapeMax:      74,
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"),
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"), netip.MustParsePrefix("192.168.0.0/16"),
			netip.MustParsePrefix("169.254.0.0/16"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("fc00::/7")},
	}
}

// testPeerTimeout is the default peer timeout, 1.5 × the default interval.
const testPeerTimeout = 45 * time.Minute

// frontConfig is the UDP front's part of cfg, as the appliance maps it.
func frontConfig(cfg tracker.Config) Config {
	return Config{NumWantDefault: cfg.NumWantDefault, ScrapeMax: cfg.ScrapeMax}
}

func newFixture(t testing.TB, mod func(*tracker.Config)) *fixture {
	t.Helper()
	cfg := defaultTracker()
	cfg.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	if mod != nil {
		mod(&cfg)
	}
	c := clock.NewFake(time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC))
	trk := tracker.New(cfg, swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, c), nil)
	s, err := New(frontConfig(cfg), trk, slog.New(slog.DiscardHandler), c)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, clock: c, trk: trk, s: s, h: newHandler(s)}
}

func (f *fixture) send(pkt []byte, from netip.AddrPort) []byte {
	return f.h.handle(pkt, from, make([]byte, 0, packetLen))
}

func connectPacket(txID uint32) []byte {
	p := binary.BigEndian.AppendUint64(nil, protocolID)
	p = binary.BigEndian.AppendUint32(p, actionConnect)
	return binary.BigEndian.AppendUint32(p, txID)
}

// connect returns a valid connection id for from.
func (f *fixture) connect(from netip.AddrPort) uint64 {
	f.t.Helper()
	r := f.send(connectPacket(7), from)
	if len(r) != 16 || binary.BigEndian.Uint32(r) != actionConnect || binary.BigEndian.Uint32(r[4:]) != 7 {
		f.t.Fatalf("connect reply %x", r)
	}
	return binary.BigEndian.Uint64(r[8:])
}

// ann is an announce request as the wire carries it.
type ann struct {
	connID  uint64
	txID    uint32
	hash    tracker.InfoHash
	left    int64
	event   uint32
	ip      [4]byte
	numWant int32
	port    uint16
	options []byte
}

func (a ann) packet() []byte {
	p := binary.BigEndian.AppendUint64(nil, a.connID)
	p = binary.BigEndian.AppendUint32(p, actionAnnounce)
	p = binary.BigEndian.AppendUint32(p, a.txID)
	p = append(p, a.hash[:]...)
	p = append(p, "-UT0001-000000000001"...)
	p = binary.BigEndian.AppendUint64(p, 0) // downloaded
	p = binary.BigEndian.AppendUint64(p, uint64(a.left))
	p = binary.BigEndian.AppendUint64(p, 0) // uploaded
	p = binary.BigEndian.AppendUint32(p, a.event)
	p = append(p, a.ip[:]...)
	p = binary.BigEndian.AppendUint32(p, 0xdecafbad) // key
	p = binary.BigEndian.AppendUint32(p, uint32(a.numWant))
	p = binary.BigEndian.AppendUint16(p, a.port)
	return append(p, a.options...)
}

func scrapePacket(connID uint64, txID uint32, hashes ...tracker.InfoHash) []byte {
	p := binary.BigEndian.AppendUint64(nil, connID)
	p = binary.BigEndian.AppendUint32(p, actionScrape)
	p = binary.BigEndian.AppendUint32(p, txID)
	for _, h := range hashes {
		p = append(p, h[:]...)
	}
	return p
}

// announceReply is a decoded announce reply.
type announceReply struct {
	interval, leechers, seeders uint32
	peers                       []netip.AddrPort
}

func (f *fixture) announce(from netip.AddrPort, a ann) announceReply {
	f.t.Helper()
	if a.connID == 0 {
		a.connID = f.connect(from)
	}
	if a.port == 0 {
		a.port = from.Port()
	}
	if a.numWant == 0 {
		a.numWant = -1
	}
	r := f.send(a.packet(), from)
	if len(r) < 20 || binary.BigEndian.Uint32(r) != actionAnnounce {
		f.t.Fatalf("announce reply %q", r)
	}
	out := announceReply{
		interval: binary.BigEndian.Uint32(r[8:]),
		leechers: binary.BigEndian.Uint32(r[12:]),
		seeders:  binary.BigEndian.Uint32(r[16:]),
	}
	size := 6
	if from.Addr().Unmap().Is6() {
		size = 18
	}
	peers := r[20:]
	if len(peers)%size != 0 {
		f.t.Fatalf("peers of %d bytes are not %d-byte records", len(peers), size)
	}
	for ; len(peers) > 0; peers = peers[size:] {
		a, _ := netip.AddrFromSlice(peers[:size-2])
		out.peers = append(out.peers, netip.AddrPortFrom(a, binary.BigEndian.Uint16(peers[size-2:])))
	}
	return out
}

func wantError(t *testing.T, r []byte, txID uint32, reason string) {
	t.Helper()
	if len(r) < 8 || binary.BigEndian.Uint32(r) != actionError || binary.BigEndian.Uint32(r[4:]) != txID {
		t.Fatalf("reply %q, want an error with transaction id %d", r, txID)
	}
	if !strings.Contains(string(r[8:]), reason) {
		t.Errorf("error %q, want it to say %q", r[8:], reason)
	}
}

func TestDroppedPackets(t *testing.T) {
	f := newFixture(t, nil)
	id := f.connect(src4)
	wrongProtocol := connectPacket(1)
	wrongProtocol[7] ^= 1
	errorPacket := scrapePacket(id, 1, hashA)
	binary.BigEndian.PutUint32(errorPacket[8:], actionError)
	for name, pkt := range map[string][]byte{
		"empty":                nil,
		"eight bytes":          make([]byte, 8),
		"fifteen bytes":        connectPacket(1)[:15],
		"connect, wrong magic": wrongProtocol,
		"an error packet":      errorPacket,
	} {
		if r := f.send(pkt, src4); len(r) != 0 {
			t.Errorf("%s: got a reply %q, want none", name, r)
		}
	}
	if st := f.trk.Stats().Swarm; st.Peers != 0 {
		t.Errorf("dropped packets stored peers: %+v", st)
	}
}

func TestConnectionIDs(t *testing.T) {
	f := newFixture(t, nil)
	id := f.connect(src4)
	if id == f.connect(src4b) {
		t.Error("two clients got the same connection id")
	}
	forged := id ^ 1
	fromOther := f.connect(src4b)

	cases := []struct {
		name    string
		id      uint64
		advance time.Duration
		ok      bool
	}{
		{"fresh", id, 0, true},
		{"just inside 2 minutes", id, 2 * time.Minute, true},
		{"expired", id, time.Second, false},
		{"forged", forged, 0, false},
		{"another client's", fromOther, 0, false},
		{"zero", 0, 0, false},
	}
	for _, tc := range cases {
		f.clock.Advance(tc.advance)
		pkt := ann{connID: tc.id, txID: 99, hash: hashA, port: 6881, left: 1, numWant: -1}.packet()
		r := f.send(pkt, src4)
		gotOK := len(r) >= 4 && binary.BigEndian.Uint32(r) == actionAnnounce
		if gotOK != tc.ok {
			t.Errorf("%s: accepted=%v, want %v (reply %q)", tc.name, gotOK, tc.ok, r)
		}
		if !tc.ok {
			wantError(t, r, 99, "connection id")
		}
	}
	if st := f.s.Stats(); st.BadConnID != 4 {
		t.Errorf("stats %+v, want 4 bad connection ids", st)
	}
	// A bad id touched nothing: the two good announces are all the tracker saw.
	if st := f.trk.Stats(); st.Announces != 2 || st.Swarm.Peers != 1 || st.Refused != 0 {
		t.Errorf("tracker stats %+v, want 2 announces of one peer and nothing else", st)
	}
	// An id claiming to be issued in the future is good only within the skew.
	for _, tc := range []struct {
		ahead time.Duration
		ok    bool
	}{{5 * time.Second, true}, {time.Minute, false}} {
		future := f.s.ids.issue(f.clock.Now().Add(tc.ahead), src4.Addr())
		if got := f.s.ids.valid(future, f.clock.Now(), src4.Addr()); got != tc.ok {
			t.Errorf("id issued %v ahead: valid=%v, want %v", tc.ahead, got, tc.ok)
		}
	}
}

// A spoofed packet must never be answered with more bytes than it carried, or the
// tracker becomes an amplifier pointed at whoever the spoofer names.
func TestNoAmplification(t *testing.T) {
	f := newFixture(t, nil)
	outsider := netip.MustParseAddrPort("192.0.2.7:1234")
	for name, tc := range map[string]struct {
		pkt  []byte
		from netip.AddrPort
	}{
		"connect from an outsider":      {connectPacket(1), outsider},
		"bare scrape header, bad id":    {scrapePacket(12345, 1), src4},
		"announce, bad id":              {ann{connID: 12345, hash: hashA, port: 1}.packet(), src4},
		"unknown action, bad id":        {append(binary.BigEndian.AppendUint64(nil, 1), 0, 0, 0, 9, 0, 0, 0, 1), src4},
		"scrape of one hash, bad id":    {scrapePacket(12345, 1, hashA), src6},
		"connect from an IPv6 outsider": {connectPacket(1), netip.MustParseAddrPort("[2001:db8::1]:1")},
		"garbage of 16 bytes":           {[]byte("GET / HTTP/1.1\r\n"), src4},
		"an HTTP request":               {[]byte("GET /announce?info_hash=aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x\r\n\r\n"), src4},
	} {
		r := f.send(tc.pkt, tc.from)
		if len(r) > len(tc.pkt) {
			t.Errorf("%s: %d-byte reply to a %d-byte packet", name, len(r), len(tc.pkt))
		}
		if len(r) > 0 && binary.BigEndian.Uint32(r) != actionError {
			t.Errorf("%s: reply %q is not an error", name, r)
		}
	}
	if r := f.send(connectPacket(3), outsider); len(r) == 0 {
		t.Error("outsider's connect got no answer at all; want a short error")
	}
}

func TestAnnounce(t *testing.T) {
	f := newFixture(t, func(c *tracker.Config) { c.NumWantDefault = 3 })
	r := f.announce(src4, ann{hash: hashA, left: 0, event: 2})
	if len(r.peers) != 0 || r.seeders != 1 || r.leechers != 0 {
		t.Fatalf("first announce %+v", r)
	}
	if r.interval < 1620 || r.interval > 1980 {
		t.Errorf("interval %d, want 1800 ±10%%", r.interval)
	}
	r = f.announce(src4b, ann{hash: hashA, left: 100})
	if len(r.peers) != 1 || r.peers[0] != src4 || r.seeders != 1 || r.leechers != 1 {
		t.Errorf("second announce %+v, want the seeder %v", r, src4)
	}
	// IPv6 peers join the same swarm; each family is sent its own peers.
	f.announce(src6, ann{hash: hashA, left: 100})
	r = f.announce(src6b, ann{hash: hashA, left: 100})
	if len(r.peers) != 1 || r.peers[0] != src6 || r.leechers != 3 {
		t.Errorf("IPv6 announce %+v, want only the IPv6 peer %v", r, src6)
	}
	// An IPv4 client on a dual-stack socket still gets 6-byte IPv4 peers.
	r = f.announce(src4mapped, ann{hash: hashA, left: 100})
	if len(r.peers) != 2 {
		t.Errorf("mapped IPv4 client got %v, want the two IPv4 peers", r.peers)
	}
	// num_want: -1 is the default (3 here), any other number is capped by family.
	for i := range 10 {
		f.announce(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, 0, byte(i)}), 7000), ann{hash: hashB, left: 1})
	}
	if r := f.announce(src4, ann{hash: hashB, left: 1, numWant: -1}); len(r.peers) != 3 {
		t.Errorf("num_want -1: %d peers, want the default 3", len(r.peers))
	}
	if r := f.announce(src4, ann{hash: hashB, left: 1, numWant: 5}); len(r.peers) != 5 {
		t.Errorf("num_want 5: %d peers", len(r.peers))
	}
	// stopped leaves the swarm and gets no peers.
	r = f.announce(src4, ann{hash: hashB, left: 1, event: 3, numWant: 50})
	if len(r.peers) != 0 || r.leechers != 10 {
		t.Errorf("stopped: %+v", r)
	}
}

func TestAnnounceCapsPeersToOneDatagram(t *testing.T) {
	f := newFixture(t, func(c *tracker.Config) { c.NumWantMax = 1000 })
	for i := range 250 {
		f.announce(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 7000), ann{hash: hashA, left: 1})
		f.announce(netip.AddrPortFrom(netip.AddrFrom16([16]byte{0xfd, 15: byte(i)}), 7000), ann{hash: hashA, left: 1})
	}
	for _, tc := range []struct {
		from netip.AddrPort
		want int
	}{{src4, maxPeers4}, {src6, maxPeers6}} {
		id := f.connect(tc.from)
		r := f.send(ann{connID: id, hash: hashA, left: 1, numWant: 1000, port: 1}.packet(), tc.from)
		if len(r) > maxReplyLen {
			t.Errorf("%v: %d-byte reply does not fit one datagram", tc.from, len(r))
		}
		if got := f.announce(tc.from, ann{hash: hashA, left: 1, numWant: 1000}); len(got.peers) != tc.want {
			t.Errorf("%v: %d peers, want %d", tc.from, len(got.peers), tc.want)
		}
	}
}

func TestAnnouncePausedAndUnknownEvents(t *testing.T) {
	f := newFixture(t, nil)
	f.announce(src4, ann{hash: hashA, left: 5, event: 4}) // libtorrent's paused
	f.announce(src4b, ann{hash: hashA, left: 5, event: 77})
	got, err := f.trk.Scrape(src4.Addr(), nil, []tracker.InfoHash{hashA}, nil)
	if err != nil || got[0].Incomplete != 2 || got[0].Downloaders != 1 {
		t.Errorf("scrape %+v (%v), want 2 incomplete of which 1 downloader", got, err)
	}
}

func TestAnnounceIPField(t *testing.T) {
	claimed := [4]byte{10, 9, 9, 9}
	for _, allow := range []bool{false, true} {
		f := newFixture(t, func(c *tracker.Config) { c.AllowIPParam = allow })
		f.announce(src4, ann{hash: hashA, left: 1, ip: claimed, port: 6881})
		r := f.announce(src4b, ann{hash: hashA, left: 1})
		want := netip.AddrPortFrom(src4.Addr(), 6881)
		if allow {
			want = netip.AddrPortFrom(netip.AddrFrom4(claimed), 6881)
		}
		if len(r.peers) != 1 || r.peers[0] != want {
			t.Errorf("allow_ip_param=%v: peers %v, want %v", allow, r.peers, want)
		}
	}
}

func TestAnnounceMalformed(t *testing.T) {
	f := newFixture(t, nil)
	id := f.connect(src4)
	good := ann{connID: id, txID: 5, hash: hashA, left: 1, port: 6881, numWant: -1}
	zeroPort := good
	zeroPort.port = 0
	for name, tc := range map[string]struct {
		pkt    []byte
		reason string
	}{
		"truncated":      {good.packet()[:60], "too short"},
		"port 0":         {zeroPort.packet(), "invalid port"},
		"unknown action": {append(binary.BigEndian.AppendUint64(nil, id), 0, 0, 0, 9, 0, 0, 0, 5), "unknown action"},
	} {
		t.Run(name, func(t *testing.T) { wantError(t, f.send(tc.pkt, src4), 5, tc.reason) })
	}
	if st := f.trk.Stats(); st.Swarm.Peers != 0 || st.Refused != 2 {
		t.Errorf("stats %+v, want nothing stored and 2 refusals", st)
	}
}

// BEP 41: options after byte 98.
func TestAnnounceOptions(t *testing.T) {
	urlData := func(s string) []byte { return append([]byte{optURLData, byte(len(s))}, s...) }
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := []struct {
		name    string
		options []byte
		want    netip.Addr // where the peer is stored; zero for a rejected announce
		reason  string
	}{
		{"none", nil, src4.Addr(), ""},
		{"end only", []byte{optEnd}, src4.Addr(), ""},
		{"nops then end", []byte{optNop, optNop, optEnd, 0xff}, src4.Addr(), ""},
		{"url data split in two", join(urlData("/announce?ip=10.7"), urlData(".7.7&x=1")), netip.MustParseAddr("10.7.7.7"), ""},
		{"unknown type skipped", join([]byte{0x7f, 3, 'a', 'b', 'c'}, urlData("/announce?ip=10.8.8.8")), netip.MustParseAddr("10.8.8.8"), ""},
		{"data after end ignored", join([]byte{optEnd}, urlData("?ip=10.6.6.6")), src4.Addr(), ""},
		{"length past the end", []byte{optURLData, 40, 'a'}, netip.Addr{}, "BEP 41"},
		{"type with no length", []byte{optNop, 0x05}, netip.Addr{}, "BEP 41"},
		{"bad escape in url data", urlData("/announce?ip=%zz"), netip.Addr{}, "percent-encoding"},
		{"long url data over many options", bytes.Repeat(urlData("/announce?pad="+strings.Repeat("p", 200)), 4), src4.Addr(), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *tracker.Config) { c.AllowIPParam = true })
			id := f.connect(src4)
			r := f.send(ann{connID: id, txID: 3, hash: hashA, left: 1, port: 6881, numWant: -1, options: tc.options}.packet(), src4)
			if tc.reason != "" {
				wantError(t, r, 3, tc.reason)
				return
			}
			if len(r) < 4 || binary.BigEndian.Uint32(r) != actionAnnounce {
				t.Fatalf("reply %q", r)
			}
			got := f.announce(src4b, ann{hash: hashA, left: 1})
			if len(got.peers) != 1 || got.peers[0].Addr() != tc.want {
				t.Errorf("peer stored as %v, want %v", got.peers, tc.want)
			}
		})
	}
}

func TestScrape(t *testing.T) {
	f := newFixture(t, nil)
	f.announce(src4, ann{hash: hashA, left: 1})
	f.announce(src4, ann{hash: hashA, left: 0, event: 1})
	f.announce(src4b, ann{hash: hashA, left: 1})
	id := f.connect(src4)
	r := f.send(scrapePacket(id, 9, hashA, hashB), src4)
	want := []uint32{actionScrape, 9, 1, 1, 1, 0, 0, 0} // seeders, completed, leechers per hash
	if len(r) != 4*len(want) {
		t.Fatalf("scrape reply %x", r)
	}
	for i, w := range want {
		if got := binary.BigEndian.Uint32(r[4*i:]); got != w {
			t.Errorf("word %d = %d, want %d (reply %x)", i, got, w, r)
		}
	}
	// Trailing bytes short of a hash are ignored; more than 74 hashes are cut to 74.
	if r := f.send(append(scrapePacket(id, 9, hashA), 1, 2, 3), src4); len(r) != 8+12 {
		t.Errorf("scrape with trailing bytes: reply of %d bytes, want one entry", len(r))
	}
	many := make([]tracker.InfoHash, 100)
	if r := f.send(scrapePacket(id, 9, many...), src4); len(r) != 8+12*maxScrape {
		t.Errorf("scrape of 100: reply of %d bytes, want %d entries", len(r), maxScrape)
	}
	wantError(t, f.send(scrapePacket(id, 9), src4), 9, "no info-hash")
}

func TestAccessDenied(t *testing.T) {
	f := newFixture(t, nil)
	outsider := netip.MustParseAddrPort("192.0.2.7:1234")
	r := f.send(connectPacket(4), outsider)
	if len(r) < 8 || binary.BigEndian.Uint32(r) != actionError {
		t.Errorf("outsider's connect: %q, want an error", r)
	}
	// Even holding a connection id minted for it, an outsider cannot announce.
	id := f.s.ids.issue(f.clock.Now(), outsider.Addr())
	wantError(t, f.send(ann{connID: id, txID: 2, hash: hashA, left: 1, port: 1}.packet(), outsider), 2, "not allowed")
}

// BenchmarkHandleAnnounce is one announce packet from parse to written reply, in a
// swarm of 100 with 50 peers wanted: the per-packet work of a worker.
func BenchmarkHandleAnnounce(b *testing.B) {
	cfg := defaultTracker()
	trk := tracker.New(cfg, swarm.New(swarm.Opts{PeerTimeout: testPeerTimeout}, clock.Real{}), nil)
	s, err := New(frontConfig(cfg), trk, slog.New(slog.DiscardHandler), clock.Real{})
	if err != nil {
		b.Fatal(err)
	}
	h := newHandler(s)
	out := make([]byte, 0, packetLen)
	pkts := make([][]byte, 100)
	srcs := make([]netip.AddrPort, 100)
	for i := range pkts {
		srcs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 6881)
		id := s.ids.issue(time.Now(), srcs[i].Addr())
		pkts[i] = ann{connID: id, txID: uint32(i), hash: hashA, left: int64(i % 2), port: 6881, numWant: 50}.packet()
		h.handle(pkts[i], srcs[i], out)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if r := h.handle(pkts[i%100], srcs[i%100], out); len(r) < 20 {
			b.Fatalf("reply %q", r)
		}
		i++
	}
}

func TestHandleAnnounceAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	f := newFixture(t, nil)
	for i := range 20 {
		f.announce(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 1, byte(i)}), 6881), ann{hash: hashA, left: 1})
	}
	id := f.connect(src4)
	pkt := ann{connID: id, hash: hashA, left: 1, port: 6881, numWant: 50, options: []byte{optURLData, 9, '/', 'a', 'n', 'n', 'o', 'u', 'n', 'c', 'e'}}.packet()
	out := make([]byte, 0, packetLen)
	f.h.handle(pkt, src4, out)
	if n := testing.AllocsPerRun(100, func() { f.h.handle(pkt, src4, out) }); n != 0 {
		t.Errorf("announce packet allocates %.1f times", n)
	}
}
