package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestArguments covers the command line's refusals: each is exit status 2 with a
// message naming the problem, before anything is sent or started.
func TestArguments(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantOut    string // in stdout, or in stderr when the status is not 0
	}{
		{"help", []string{"help"}, 0, "Usage:"},
		{"fill --help", []string{"fill", "--help"}, 0, "Usage:"},
		{"no command", nil, 2, "name a command"},
		{"unknown command", []string{"flood"}, 2, `unknown command "flood"`},
		{"fill without a target", []string{"fill", "--torrents", "1", "--peers", "1"}, 2, "--target is required"},
		{"fill at a LAN address", []string{"fill", "--target", "192.168.1.20:6969", "--torrents", "1", "--peers", "1"}, 2, "not an IPv4 loopback address"},
		{"fill at a host name", []string{"fill", "--target", "tracker.example:6969", "--torrents", "1", "--peers", "1"}, 2, "host names are not looked up"},
		{"fill at IPv6 loopback", []string{"fill", "--target", "[::1]:6969", "--torrents", "1", "--peers", "1"}, 2, "not an IPv4 loopback address"},
		{"no torrents", []string{"fill", "--target", "127.0.0.1:6969", "--peers", "10"}, 2, "--torrents 0"},
		{"no peers", []string{"fill", "--target", "127.0.0.1:6969", "--torrents", "10"}, 2, "--peers 0"},
		{"too many peers", []string{"fill", "--target", "127.0.0.1:6969", "--torrents", "1", "--peers", "50000001"}, 2, "--peers 50000001"},
		{"zero window", []string{"fill", "--target", "127.0.0.1:6969", "--torrents", "1", "--peers", "1", "--window", "0"}, 2, "--window 0"},
		{"bad numwant", []string{"fill", "--target", "127.0.0.1:6969", "--torrents", "1", "--peers", "1", "--numwant", "-5"}, 2, "--numwant -5"},
		{"zero timeout", []string{"fill", "--target", "127.0.0.1:6969", "--torrents", "1", "--peers", "1", "--timeout", "0s"}, 2, "--timeout 0s"},
		{"unknown flag", []string{"fill", "--targett", "127.0.0.1:6969"}, 2, "unknown flag: --targett"},
		{"stray argument", []string{"fill", "127.0.0.1:6969"}, 2, `unexpected argument "127.0.0.1:6969"`},
		{"unknown load", []string{"memory", "--loads", "idle,10M"}, 2, `unknown load "10M"`},
		{"no runs", []string{"memory", "--loads", "idle", "--runs", "0", "--binary", "/bin/sh"}, 2, "--runs 0"},
		{"missing binary", []string{"memory", "--loads", "idle", "--binary", "/nonexistent/swarmlight"}, 2, "--binary /nonexistent/swarmlight"},
		{"against what", []string{"rate", "--binary", "/bin/sh", "--against", "xbtt"}, 2, `--against "xbtt"`},
		{"fewer announces than peers", []string{"rate", "--peers", "100", "--announces", "10"}, 2, "--announces 10 must be at least --peers 100"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runMain(tt.args, &stdout, &stderr)
			out := stdout.String()
			if tt.wantStatus != 0 {
				out = stderr.String()
			}
			if status != tt.wantStatus || !strings.Contains(out, tt.wantOut) {
				t.Fatalf("status %d, want %d; want %q in:\nstdout: %s\nstderr: %s", status, tt.wantStatus, tt.wantOut, stdout.String(), stderr.String())
			}
		})
	}
}

func TestParseLoads(t *testing.T) {
	tests := []struct {
		in   string
		want string // keys, in the benchmark's order
	}{
		{"idle,10k,1m,5m,scrape", "idle,10k,1m,5m,scrape"},
		{"scrape, idle", "idle,scrape"},
		{"5m,5m", "5m"},
	}
	for _, tt := range tests {
		ls, err := parseLoads(tt.in)
		var keys []string
		for _, l := range ls {
			keys = append(keys, l.key)
		}
		if err != nil || strings.Join(keys, ",") != tt.want {
			t.Errorf("parseLoads(%q) = %v, %v; want %s", tt.in, keys, err, tt.want)
		}
	}
	if _, err := parseLoads(""); err == nil {
		t.Error(`parseLoads("") succeeded`)
	}
}

// TestCapArgs reads help texts of old and new binaries: caps the binary lacks are
// left out, a cap whose help says 0 turns it off gets 0, and a stated range caps
// the value.
func TestCapArgs(t *testing.T) {
	const old = `Flags:
      --config string                       Config file to read
      --swarm.max_peers int                 Most peers tracked at once across all torrents (at least 1) (default 1000000)
      --swarm.max_torrents int              Most torrents tracked at once (at least 1) (default 100000)
      --tracker.full_scrape                 Answer a scrape that names no torrent with every torrent's counts
`
	const newer = old + `      --swarm.max_memory int                Most bytes the store may hold; 0 means no limit (default 0)
      --swarm.source_max_peers int          Most peers one source address may hold (1 to 100000) (default 1000)
      --swarm.source_max_new_torrents int   New torrents one source address may create a minute; 0 turns it off (default 100)
`
	const sized = old + `      --swarm.max_memory size               Bytes the peer store may use: auto is 40% of this machine's RAM (16MiB to 2GiB), or a size like 96MiB or 1GiB (at least 8MiB) (default "auto")
`
	const odd = old + `      --swarm.max_memory bytes              Most memory the store may hold, e.g. 64MiB (default 64MiB)
`
	tests := []struct {
		name      string
		help      string
		want      string
		wantNotes int
	}{
		{"old binary", old, "--swarm.max_peers 16000000 --swarm.max_torrents 4000000", 0},
		{"newer binary", newer, "--swarm.max_memory 0 --swarm.max_peers 16000000 --swarm.max_torrents 4000000 --swarm.source_max_new_torrents 0 --swarm.source_max_peers 100000", 0},
		{"a cap as a size", sized, "--swarm.max_memory 68719476736 --swarm.max_peers 16000000 --swarm.max_torrents 4000000", 0},
		{"a cap of an unknown type", odd, "--swarm.max_peers 16000000 --swarm.max_torrents 4000000", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			flags := parseHelpFlags(tt.help)
			if _, ok := flags["tracker.full_scrape"]; !ok {
				t.Fatalf("boolean flag not parsed: %v", flags)
			}
			args, notes := capArgs(flags)
			if got := strings.Join(args, " "); got != tt.want || len(notes) != tt.wantNotes {
				t.Fatalf("capArgs = %q, notes %q; want %q and %d notes", got, notes, tt.want, tt.wantNotes)
			}
		})
	}
}

func TestShellJoin(t *testing.T) {
	tests := []struct {
		in   []string
		want string
	}{
		{[]string{"swarmload", "fill", "--target", "127.0.0.1:6969"}, "swarmload fill --target 127.0.0.1:6969"},
		{[]string{"a b", "", "it's"}, `'a b' '' 'it'\''s'`},
	}
	for _, tt := range tests {
		if got := shellJoin(tt.in); got != tt.want {
			t.Errorf("shellJoin(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}
