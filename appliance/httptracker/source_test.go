package httptracker

import (
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

func TestSource(t *testing.T) {
	for _, tc := range []struct {
		remote string
		want   string // "" for no usable address
	}{
		{"10.0.0.1:40000", "10.0.0.1"},
		{"[::ffff:10.0.0.1]:40000", "10.0.0.1"},
		{"[fd00::1]:40000", "fd00::1"},
		{"[fe80::1%eth0]:40000", "fe80::1"},
		{"[fe80::1%2]:40000", "fe80::1"},
		{"pipe", ""},
		{"", ""},
	} {
		r := httptest.NewRequest("GET", "/announce", nil)
		r.RemoteAddr = tc.remote
		got, err := source(r)
		switch {
		case tc.want == "" && err != errNoSource:
			t.Errorf("source(%q) = %v, %v; want errNoSource", tc.remote, got, err)
		case tc.want != "" && (err != nil || got != netip.MustParseAddr(tc.want) || got.Zone() != ""):
			t.Errorf("source(%q) = %v, %v; want %s", tc.remote, got, err, tc.want)
		}
	}
}

// serveFrom answers target as if it came from remote, and decodes the reply.
func serveFrom(t *testing.T, s *Server, remote, target string) map[string]any {
	t.Helper()
	r := httptest.NewRequest("GET", target, nil)
	r.RemoteAddr = remote
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, r)
	if rec.Code != 200 {
		t.Fatalf("GET %s from %s: status %d", target, remote, rec.Code)
	}
	return decodeDict(t, rec.Body.Bytes())
}

// A link-local client, whose connection names the interface it came in on, is
// let in by fe80::/10 as the UDP front lets it in, and told its address bare.
func TestLinkLocalClient(t *testing.T) {
	for _, tc := range []struct {
		name    string
		allowed []string
		reason  string // the failure reason, "" for an answer
	}{
		{"default networks", nil, ""},
		{"fe80::/10 allowed", []string{"10.0.0.0/8", "fe80::/10"}, ""},
		{"fe80::/10 not allowed", []string{"10.0.0.0/8", "fd00::/8"}, "not allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hc, trc := testConfigs()
			if tc.allowed != nil {
				trc.AllowedNetworks = nil
				for _, p := range tc.allowed {
					trc.AllowedNetworks = append(trc.AllowedNetworks, netip.MustParsePrefix(p))
				}
			}
			s := newServer(hc, trc)
			for _, target := range []string{"/announce?" + testQuery, "/scrape?info_hash=abcdefghij0123456789"} {
				d := serveFrom(t, s, "[fe80::1%eth0]:40000", target)
				reason, _ := d["failure reason"].(string)
				if tc.reason == "" && reason != "" || !strings.Contains(reason, tc.reason) {
					t.Errorf("%.9s from a zoned link-local address: %v, want failure reason %q", target, d, tc.reason)
				}
				if tc.reason != "" || !strings.HasPrefix(target, "/announce") {
					continue
				}
				if ip := d["external ip"]; ip != string(netip.MustParseAddr("fe80::1").AsSlice()) {
					t.Errorf("external ip %q, want fe80::1's 16 bytes", ip)
				}
			}
		})
	}
}

// With ip= on, a loopback claim is ignored and a stop naming someone else's
// address removes nothing; the owner's own stop does.
func TestClaimedAddress(t *testing.T) {
	hc, tc := testConfigs()
	tc.AllowIPParam = true
	s := newServer(hc, tc)
	const hash = "info_hash=abcdefghij0123456789&left=1"
	peer := func(id byte, port string, extra string) string {
		return "/announce?" + hash + "&peer_id=-TT0001-00000000000" + string(id) + "&port=" + port + extra
	}
	steps := []struct {
		from, target string
		want         []string // the peers this announce is given, when it checks
	}{
		{"10.0.0.5:1", peer('1', "6881", ""), nil},
		{"10.0.0.2:1", peer('2', "6881", "&ip=10.0.0.5&event=stopped"), nil},
		{"10.0.0.2:1", peer('2', "22", "&ip=127.0.0.1"), nil},
		{"10.0.0.3:1", peer('3', "22", "&ipv6="+url.QueryEscape("::1")), nil},
		{"10.0.0.9:1", peer('9', "7000", ""), []string{"10.0.0.5:6881", "10.0.0.2:22", "10.0.0.3:22"}},
		{"10.0.0.5:1", peer('1', "6881", "&event=stopped"), nil},
		{"10.0.0.9:1", peer('9', "7000", ""), []string{"10.0.0.2:22", "10.0.0.3:22"}},
	}
	for i, st := range steps {
		d := serveFrom(t, s, st.from, st.target)
		if r, ok := d["failure reason"]; ok {
			t.Fatalf("step %d: failure reason %q", i, r)
		}
		if st.want == nil {
			continue
		}
		if p6, _ := d["peers6"].(string); p6 != "" {
			t.Errorf("step %d: IPv6 peers %x; every peer here announced over IPv4", i, p6)
		}
		got := map[string]bool{}
		for p := []byte(d["peers"].(string)); len(p) >= 6; p = p[6:] {
			got[netip.AddrPortFrom(netip.AddrFrom4([4]byte(p[:4])), uint16(p[4])<<8|uint16(p[5])).String()] = true
		}
		for _, w := range st.want {
			if !got[w] {
				t.Errorf("step %d: peers %v lack %s", i, got, w)
			}
		}
		if len(got) != len(st.want) {
			t.Errorf("step %d: peers %v, want exactly %v", i, got, st.want)
		}
	}
	if st := s.trk.(*tracker.Tracker).Stats(); st.Refused != 0 {
		t.Errorf("%d announces refused; an unusable claim is ignored, not refused", st.Refused)
	}
}
