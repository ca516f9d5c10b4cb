package udptracker

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// A link-local client is let in by fe80::/10 as the HTTP front lets it in, with
// or without the zone the socket layer may report, and stored without it.
func TestLinkLocalSource(t *testing.T) {
	zoned := netip.MustParseAddrPort("[fe80::1%eth0]:40000")
	for _, tc := range []struct {
		name    string
		allowed []string
		want    bool
	}{
		{"fe80::/10 allowed", []string{"fd00::/8", "fe80::/10"}, true},
		{"fe80::/10 not allowed", []string{"10.0.0.0/8", "fd00::/8"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, func(c *tracker.Config) {
				c.AllowedNetworks = nil
				for _, p := range tc.allowed {
					c.AllowedNetworks = append(c.AllowedNetworks, netip.MustParsePrefix(p))
				}
			})
			if !tc.want {
				// No longer than the request: "your network is not allowed", cut.
				wantError(t, f.send(connectPacket(7), zoned), 7, "your net")
				return
			}
			f.announce(zoned, ann{hash: hashA, left: 1})
			// Another interface, or none, is the same host: one peer, not three.
			f.announce(netip.MustParseAddrPort("[fe80::1%wlan0]:40000"), ann{hash: hashA, left: 1})
			f.announce(netip.MustParseAddrPort("[fe80::1]:40000"), ann{hash: hashA, left: 1})
			r := f.announce(src6, ann{hash: hashA, left: 1})
			want := netip.MustParseAddrPort("[fe80::1]:40000")
			if len(r.peers) != 1 || r.peers[0] != want {
				t.Errorf("peers %v, want only %v", r.peers, want)
			}
		})
	}
}

// With ip= on, a claim of loopback, broadcast or multicast is ignored (in the
// packet's ip field or in BEP 41 URL data), and a stop naming someone else's
// address removes nothing; the owner's own stop does.
func TestClaimedAddress(t *testing.T) {
	f := newFixture(t, func(c *tracker.Config) {
		c.AllowIPParam = true
		c.AllowedNetworks = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}
	})
	const stopped = 3
	victim := netip.MustParseAddrPort("10.0.0.5:6881")
	urlData := func(s string) []byte { return append([]byte{optURLData, byte(len(s))}, s...) }
	ap := netip.MustParseAddrPort
	steps := []struct {
		from netip.AddrPort
		a    ann
		want []netip.AddrPort // the peers this announce is given, when it checks
	}{
		{victim, ann{hash: hashA, left: 1}, nil},
		{src4b, ann{hash: hashA, left: 1, port: 6881, ip: victim.Addr().As4(), event: stopped}, nil},
		{src4b, ann{hash: hashA, left: 1, port: 22, ip: [4]byte{127, 0, 0, 1}}, nil},
		{src4b, ann{hash: hashA, left: 1, port: 23, ip: [4]byte{255, 255, 255, 255}}, nil},
		{src4b, ann{hash: hashA, left: 1, port: 24, ip: [4]byte{224, 0, 0, 1}}, nil},
		{src4b, ann{hash: hashA, left: 1, port: 25, options: urlData("/announce?ip=127.0.0.2")}, nil},
		{src4, ann{hash: hashA, left: 1, port: 7000}, []netip.AddrPort{victim, ap("10.0.0.2:22"), ap("10.0.0.2:23"), ap("10.0.0.2:24"), ap("10.0.0.2:25")}},
		{victim, ann{hash: hashA, left: 1, event: stopped}, nil},
		{src4, ann{hash: hashA, left: 1, port: 7000}, []netip.AddrPort{ap("10.0.0.2:22"), ap("10.0.0.2:23"), ap("10.0.0.2:24"), ap("10.0.0.2:25")}},
	}
	for i, st := range steps {
		r := f.announce(st.from, st.a)
		if st.want == nil {
			continue
		}
		slices.SortFunc(r.peers, netip.AddrPort.Compare)
		slices.SortFunc(st.want, netip.AddrPort.Compare)
		if !slices.Equal(r.peers, st.want) {
			t.Errorf("step %d: peers %v, want %v", i, r.peers, st.want)
		}
	}
	if st := f.trk.Stats(); st.Refused != 0 {
		t.Errorf("%d announces refused; an unusable claim is ignored, not refused", st.Refused)
	}
}
