package udptracker

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// TestErrorRepliesLimited sends one source more error-drawing packets than its
// burst: what a client that behaves never draws so often is answered errorBurst
// times and then held back, until time refills the source's share; the tracker's
// refusals of well-formed requests with a valid id are always answered.
func TestErrorRepliesLimited(t *testing.T) {
	outsider := netip.MustParseAddrPort("192.0.2.7:1234")
	cases := []struct {
		name    string
		from    netip.AddrPort
		packet  func(f *fixture) []byte
		limited bool
	}{
		{"bad connection id", src4, func(*fixture) []byte {
			return ann{connID: 12345, txID: 1, hash: hashA, port: 1}.packet()
		}, true},
		{"malformed announce", src4, func(f *fixture) []byte {
			return ann{connID: f.connect(src4), txID: 1, hash: hashA, port: 1}.packet()[:60]
		}, true},
		{"unknown action", src6, func(f *fixture) []byte {
			return append(binary.BigEndian.AppendUint64(nil, f.connect(src6)), 0, 0, 0, 9, 0, 0, 0, 1)
		}, true},
		{"connect from a network not allowed", outsider, func(*fixture) []byte { return connectPacket(1) }, true},
		{"announce refused by the tracker, valid id", outsider, func(f *fixture) []byte {
			return ann{connID: f.s.ids.issue(f.clock.Now(), outsider.Addr()), txID: 1, hash: hashA, port: 1, numWant: -1}.packet()
		}, false},
	}
	const extra = 5
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			pkt := tc.packet(f)
			answered := 0
			for range errorBurst + extra {
				if r := f.send(pkt, tc.from); len(r) > 0 {
					wantError(t, r, 1, "")
					answered++
				}
			}
			want, limited := errorBurst+extra, uint64(0)
			if tc.limited {
				want, limited = errorBurst, extra
			}
			if st := f.s.Stats(); answered != want || st.Limited != limited || st.Errors != uint64(answered) {
				t.Errorf("%d of %d answered (stats %+v), want %d answered and %d held back", answered, errorBurst+extra, st, want, limited)
			}
			if !tc.limited {
				return
			}
			// Each errorInterval gives back one reply.
			f.clock.Advance(errorInterval)
			if r := f.send(pkt, tc.from); len(r) == 0 {
				t.Error("no reply after an interval's wait")
			}
			if r := f.send(pkt, tc.from); len(r) != 0 {
				t.Errorf("two replies after one interval's wait: %q", r)
			}
		})
	}
}

// TestErrorLimitPerSource exhausts one source's error replies and checks who else
// is held back with it: its own IPv6 /64, not another address or /64, and never a
// successful reply.
func TestErrorLimitPerSource(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flood  netip.AddrPort
		other  netip.AddrPort
		shares bool
	}{
		{"another IPv4 address", src4, src4b, false},
		{"the same IPv4 address, mapped", src4, netip.AddrPortFrom(netip.AddrFrom16(src4.Addr().As16()), 1), true},
		{"the same IPv6 /64", netip.MustParseAddrPort("[fd00::1:1]:1"), netip.MustParseAddrPort("[fd00::2:2]:2"), true},
		{"another IPv6 /64", netip.MustParseAddrPort("[fd00::1:1]:1"), netip.MustParseAddrPort("[fd00:0:0:1::1]:1"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			// Sources that do not share a table bucket by the chance of the key.
			if !tc.shares && f.s.limiter.bucket(tc.flood.Addr()) == f.s.limiter.bucket(tc.other.Addr()) {
				f = newFixture(t, nil)
			}
			bad := ann{connID: 12345, txID: 1, hash: hashA, port: 1}.packet()
			for range errorBurst {
				f.send(bad, tc.flood)
			}
			if r := f.send(bad, tc.flood); len(r) != 0 {
				t.Fatalf("the flooding source is still answered: %q", r)
			}
			if r := f.send(bad, tc.other); (len(r) == 0) != tc.shares {
				t.Errorf("%v answered=%v after %v's burst, want %v", tc.other, len(r) > 0, tc.flood, !tc.shares)
			}
			// The flooding source still connects and announces.
			if r := f.announce(tc.flood, ann{hash: hashA, left: 1}); r.leechers != 1 {
				t.Errorf("announce from the flooding source: %+v", r)
			}
		})
	}
}

// A flood of forged ids costs no heap allocation per packet, answered or not.
func TestErrorRepliesAllocateNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates on its own account")
	}
	f := newFixture(t, nil)
	bad := ann{connID: 12345, txID: 1, hash: hashA, port: 1}.packet()
	out := make([]byte, 0, packetLen)
	if n := testing.AllocsPerRun(100, func() { f.h.handle(bad, src4, out) }); n != 0 {
		t.Errorf("a forged id allocates %.1f times", n)
	}
	if st := f.s.Stats(); st.Errors == 0 || st.Limited == 0 {
		t.Errorf("stats %+v: the test did not cover both answered and held-back errors", st)
	}
}
