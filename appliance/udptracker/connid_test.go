package udptracker

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// The first 24 vectors of the SipHash reference implementation (vectors.h): key
// 00 01 … 0f, message 00 01 … n-1 for n = 0…23, which covers the 20-byte input of
// a connection id's MAC.
func TestSipHashVectors(t *testing.T) {
	want := []uint64{
		0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d,
		0xcf2794e0277187b7, 0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137,
		0x93f5f5799a932462, 0x9e0082df0ba9e4b0, 0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7,
		0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee, 0xa129ca6149be45e5,
		0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794, 0x4bc1b3f0968dd39c, 0xbb6dc91da77961bd,
		0xbed65cf21aa2ee98, 0xd0f2cbb02e3b67c7, 0x93536795e3a33e88, 0xa80c038ccd5ccec8,
	}
	var key, msg [24]byte
	for i := range key {
		key[i], msg[i] = byte(i), byte(i)
	}
	k0, k1 := binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:16])
	for n, w := range want {
		if got := siphash24(k0, k1, msg[:n]); got != w {
			t.Errorf("SipHash-2-4 of %d bytes = %#016x, want %#016x", n, got, w)
		}
	}
}

// TestConnectionIDValidity checks ids against the issuing key at the edges of their
// lifetime and as a forger would make them.
func TestConnectionIDValidity(t *testing.T) {
	ids, err := newConnIDs()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	addr, other := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	id := ids.issue(now, addr)
	// The last second before the 16 time bits wrap to zero.
	edge := time.Unix(1<<16*30000-1, 0)
	type idCase struct {
		name string
		id   uint64
		at   time.Time
		addr netip.Addr
		ok   bool
	}
	cases := []idCase{
		{"fresh", id, now, addr, true},
		{"fresh, as an IPv4-mapped address", id, now, netip.AddrFrom16(addr.As16()), true},
		{"2 minutes old", id, now.Add(connIDLifetime), addr, true},
		{"2 minutes and a second old", id, now.Add(connIDLifetime + time.Second), addr, false},
		{"issued 10 s ahead of the clock", id, now.Add(-connIDSkew), addr, true},
		{"issued 11 s ahead of the clock", id, now.Add(-connIDSkew - time.Second), addr, false},
		{"another client's", id, now, other, false},
		{"its MAC under the time bits of the next second", id + 1<<connIDMACBits, now, addr, false},
		// The 16 time bits are the same 2^16 s later; the MAC is not.
		{"issued 2^16 s before", ids.issue(now.Add(-(1<<16)*time.Second), addr), now, addr, false},
		{"issued before the time bits wrap, checked after", ids.issue(edge, addr), edge.Add(connIDLifetime), addr, true},
		{"issued after the time bits wrap, checked before", ids.issue(edge.Add(connIDSkew), addr), edge, addr, true},
		{"issued before the time bits wrap, expired after", ids.issue(edge, addr), edge.Add(connIDLifetime + time.Second), addr, false},
		{"zero", 0, now, addr, false},
	}
	for i := range 64 {
		cases = append(cases, idCase{fmt.Sprintf("bit %d flipped", i), id ^ 1<<i, now, addr, false})
	}
	for _, tc := range cases {
		if got := ids.valid(tc.id, tc.at, tc.addr); got != tc.ok {
			t.Errorf("%s: valid=%v, want %v", tc.name, got, tc.ok)
		}
	}
}

// TestConnectionIDMACWidth shows the MAC is 48 bits, so that a forgery takes 2^48
// tries: ids issued in the same second to different clients differ in each of
// their 48 low bits somewhere, and carry the same 16 time bits.
func TestConnectionIDMACWidth(t *testing.T) {
	ids, err := newConnIDs()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	first := ids.issue(now, netip.AddrFrom4([4]byte{10, 0, 0, 0}))
	var differ uint64
	for i := range 256 {
		differ |= first ^ ids.issue(now, netip.AddrFrom4([4]byte{10, 0, 0, byte(i)}))
	}
	if differ != 1<<48-1 {
		t.Errorf("bits that differ between clients' ids: %#016x, want the 48 low bits", differ)
	}
}

// BenchmarkConnIDValid is the check every announce and scrape pays.
func BenchmarkConnIDValid(b *testing.B) {
	ids, err := newConnIDs()
	if err != nil {
		b.Fatal(err)
	}
	now, addr := time.Now(), netip.MustParseAddr("10.0.0.1")
	id := ids.issue(now, addr)
	for b.Loop() {
		if !ids.valid(id, now, addr) {
			b.Fatal("invalid")
		}
	}
}
