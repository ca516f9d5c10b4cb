package privacytest

import (
	"net/netip"
	"slices"
	"testing"
)

func TestForms(t *testing.T) {
	hash := []byte("\x01\xfe\x7f\x80-privhash-0!\xab\xab\xab\xab")
	tests := []struct {
		name    string
		forms   []string
		want    []string
		notWant []string
	}{
		{
			name:  "an IPv4 peer as the issue found it in a SIGQUIT dump",
			forms: AddrPort(netip.MustParseAddrPort("127.0.0.77:2690")),
			want: []string{
				"127.0.0.77", "127.0.0.77:2690", "2690", "7f00004d", "7f00004d0a82",
				"0x820a4d00007f", "820a4d00007f", // the record, little-endian, as in the dump
				"0x7f00004d0a82", "0x4d00007f", "0x7f00004d",
				"0xffff7f00004d", // netip.Addr's low word of an IPv4-mapped address
			},
			notWant: []string{"4d0a", "0x4d0a"}, // too short to mean anything
		},
		{
			name:  "an IPv4-mapped address is the IPv4 peer",
			forms: AddrPort(netip.MustParseAddrPort("[::ffff:127.0.0.77]:2690")),
			want:  []string{"127.0.0.77:2690", "0x820a4d00007f"},
		},
		{
			name:  "an IPv6 peer",
			forms: AddrPort(netip.MustParseAddrPort("[fd00::77:4141]:17631")),
			want:  []string{"fd00::77:4141", "[fd00::77:4141]:17631", "17631", "fd00000000000000000000000077414144df"},
		},
		{
			name:  "an info-hash, in every window, both byte orders",
			forms: Encodings(hash),
			want: []string{
				string(hash), "01fe7f802d70726976686173682d3021abababab",
				"0x6972702d807ffe01", "6972702d807ffe01", // bytes 0-7, little-endian
				"0x1fe7f802d707269",  // bytes 0-7, big-endian, the leading zero dropped
				"0x6873616876697270", // bytes 5-12, little-endian
				"0xabababab",         // bytes 16-19 as a 32-bit word
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, w := range tt.want {
				if !slices.Contains(tt.forms, w) {
					t.Errorf("lacks %q; have %q", w, tt.forms)
				}
			}
			for _, w := range tt.notWant {
				if slices.Contains(tt.forms, w) {
					t.Errorf("has %q", w)
				}
			}
		})
	}
}

func TestFind(t *testing.T) {
	secrets := []string{"17631", "0x820a4d00007f", "127.0.0.77"}
	tests := []struct {
		text string
		want int
	}{
		{"level=INFO msg=stats memory=1176310 peers=3", 0},
		{"listening addr=127.0.0.1:17631", 1},
		{"main.f(0x820A4D00007F, ...)", 1},
		{"runtime.gopark(0xffff820a4d00007f?)", 0}, // not this form; Words lists the one without 0x too
		{"127.0.0.77 and port 17631", 2},
		{"", 0},
	}
	for _, tt := range tests {
		if got := Find(tt.text, secrets); len(got) != tt.want {
			t.Errorf("Find(%q) = %q, want %d finds", tt.text, got, tt.want)
		}
	}
}
