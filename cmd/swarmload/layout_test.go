package main

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in      string
		want    string // the parsed target, or "" for an error
		wantErr string
	}{
		{"127.0.0.1:6969", "127.0.0.1:6969", ""},
		{"127.3.2.1:1", "127.3.2.1:1", ""},
		{"[::ffff:127.0.0.1]:6969", "127.0.0.1:6969", ""},
		{"", "", "--target is required"},
		{"10.0.0.1:6969", "", "not an IPv4 loopback address"},
		{"192.168.1.20:6969", "", "not an IPv4 loopback address"},
		{"8.8.8.8:53", "", "not an IPv4 loopback address"},
		{"[::1]:6969", "", "not an IPv4 loopback address"},
		{"localhost:6969", "", "host names are not looked up"},
		{"127.0.0.1", "", "want an IP address and port"},
		{"127.0.0.1:0", "", "port 0"},
		{"127.0.0.1:70000", "", "want an IP address and port"},
	}
	for _, tt := range tests {
		got, err := parseTarget(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("parseTarget(%q): %v", tt.in, err)
		case tt.wantErr == "" && got.String() != tt.want:
			t.Errorf("parseTarget(%q) = %v, want %s", tt.in, got, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("parseTarget(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
		}
	}
}

func TestSources(t *testing.T) {
	// The sources of the largest load allowed: all distinct, all loopback, none
	// in 127.0.0.0/24 and none ending in .0 or .255.
	n := numSources(maxPeers)
	seen := make(map[netip.Addr]bool, n)
	for s := range n {
		a := sourceAddr(s)
		b := a.As4()
		if !a.IsLoopback() || b[1] == 0 || b[3] == 0 || b[3] == 255 || seen[a] {
			t.Fatalf("source %d is %v", s, a)
		}
		seen[a] = true
	}
	tests := []struct{ peers, sources int }{{1, 1}, {1000, 1}, {1001, 2}, {5_000_000, 5000}}
	for _, tt := range tests {
		if got := numSources(tt.peers); got != tt.sources {
			t.Errorf("numSources(%d) = %d, want %d", tt.peers, got, tt.sources)
		}
	}
}

func TestSeederShare(t *testing.T) {
	// About one peer in ten, so that swarms hold seeders and leechers.
	seeders := 0
	for j := range 100_000 {
		if isSeeder(j) {
			seeders++
		}
	}
	if seeders < 9_000 || seeders > 11_000 {
		t.Errorf("%d seeders in 100000 peers, want about 10000", seeders)
	}
}
