package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// TestStoreKeys sets each of the peer store's keys from the file, then the
// environment over it, then a flag over both, and checks each layer wins.
func TestStoreKeys(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		key                   string
		file, env, flag       string
		get                   func(Config) any
		byFile, byEnv, byFlag any
	}{
		{
			key: "swarm.max_memory", file: "64MiB", env: "1GiB", flag: "auto",
			get:    func(c Config) any { return c.Swarm.MaxMemory },
			byFile: int64(64 * mib), byEnv: int64(1 << 30), byFlag: int64(171 * mib), // the fake Pi Zero 2 W
		},
		{
			key: "swarm.max_memory", file: "auto", env: "500000000", flag: "96 MiB",
			get:    func(c Config) any { return c.Swarm.MaxMemoryAuto },
			byFile: true, byEnv: false, byFlag: false,
		},
		{
			key: "swarm.max_torrents", file: "5", env: "6", flag: "7",
			get:    func(c Config) any { return c.Swarm.MaxTorrents },
			byFile: 5, byEnv: 6, byFlag: 7,
		},
		{
			key: "swarm.max_peers", file: "1e6", env: "20000000", flag: "1",
			get:    func(c Config) any { return c.Swarm.MaxPeers },
			byFile: 1000000, byEnv: 20000000, byFlag: 1,
		},
		{
			key: "swarm.source_max_new_torrents", file: "0", env: "10", flag: "0",
			get:    func(c Config) any { return c.Swarm.SourceMaxNewTorrents },
			byFile: 0, byEnv: 10, byFlag: 0,
		},
		{
			key: "swarm.source_max_peers", file: "30000", env: "0", flag: "1",
			get:    func(c Config) any { return c.Swarm.SourceMaxPeers },
			byFile: 30000, byEnv: 0, byFlag: 1,
		},
		{
			key: "swarm.source_window", file: "1s", env: "1h", flag: "24h",
			get:    func(c Config) any { return c.Swarm.SourceWindow },
			byFile: time.Second, byEnv: time.Hour, byFlag: 24 * time.Hour,
		},
		{
			key: "tracker.torrent_retention", file: "0", env: "90m", flag: "720h",
			get:    func(c Config) any { return c.Tracker.TorrentRetention },
			byFile: time.Duration(0), byEnv: 90 * time.Minute, byFlag: 720 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			sec, leaf, _ := strings.Cut(tt.key, ".")
			file := sec + ":\n  " + leaf + ": " + tt.file + "\n"
			env := []string{EnvName(tt.key) + "=" + tt.env}
			flags := []string{"--" + tt.key + "=" + tt.flag}
			layers := []struct {
				name string
				in   input
				want any
			}{
				{"file", input{file: file}, tt.byFile},
				{"env over file", input{file: file, env: env}, tt.byEnv},
				{"flag over env", input{file: file, env: env, flags: flags}, tt.byFlag},
			}
			for _, l := range layers {
				l.in.ram = fakeRAM(piZero2W, 0)
				cfg, err := load(t, l.in)
				if err != nil {
					t.Fatalf("%s: %v", l.name, err)
				}
				if got := tt.get(cfg); got != l.want {
					t.Errorf("%s: got %v, want %v", l.name, got, l.want)
				}
			}
		})
	}
}

// TestStoreKeyErrors checks that a bad value for a store key is a KeyError naming
// the key and where the value came from, and that it is the only error.
func TestStoreKeyErrors(t *testing.T) {
	tests := []struct {
		name string
		in   input
		key  string
		want string
	}{
		{
			name: "unknown unit from env",
			in:   input{env: []string{"SWARMLIGHT_SWARM_MAX_MEMORY=12XB"}},
			key:  "swarm.max_memory",
			want: `config: swarm.max_memory: want auto or a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, like 96MiB or 500000000; got "12XB" (set by SWARMLIGHT_SWARM_MAX_MEMORY)`,
		},
		{
			name: "below 8 MiB from a flag",
			in:   input{flags: []string{"--swarm.max_memory", "4MiB"}},
			key:  "swarm.max_memory",
			want: "config: swarm.max_memory: 4MiB is out of range; want 8MiB to " + formatSize(maxMemory) + " (set by --swarm.max_memory)",
		},
		{
			name: "ambiguous unit in the file",
			in:   input{file: "swarm:\n  max_memory: 512M\n"},
			key:  "swarm.max_memory",
			want: `config: swarm.max_memory: "512M": M is ambiguous (1000 or 1024 based?); write 512MiB for the binary unit (set in `,
		},
		{
			name: "exponent in the file",
			in:   input{file: "swarm:\n  max_memory: 1e9\n"},
			key:  "swarm.max_memory",
			want: "config: swarm.max_memory: want auto or a whole number of bytes",
		},
		{
			name: "overflow in the file",
			in:   input{file: "swarm:\n  max_memory: 99999999999999999999GiB\n"},
			key:  "swarm.max_memory",
			want: `config: swarm.max_memory: "99999999999999999999GiB" is too large (set in `,
		},
		{
			name: "empty section value",
			in:   input{file: "swarm:\n  max_memory: {a: 1}\n"},
			key:  "swarm.max_memory",
			want: "config: swarm.max_memory: want auto or a whole number of bytes with an optional unit B, KiB, MiB, GiB or TiB, like 96MiB or 500000000; got a mapping",
		},
		{
			name: "negative per-source torrents",
			in:   input{env: []string{"SWARMLIGHT_SWARM_SOURCE_MAX_NEW_TORRENTS=-1"}},
			key:  "swarm.source_max_new_torrents",
			want: "config: swarm.source_max_new_torrents: -1 is out of range; want at least 0 (set by SWARMLIGHT_SWARM_SOURCE_MAX_NEW_TORRENTS)",
		},
		{
			name: "per-source peers not a number",
			in:   input{flags: []string{"--swarm.source_max_peers", "many"}},
			key:  "swarm.source_max_peers",
			want: `config: swarm.source_max_peers: want a whole number; got "many" (set by --swarm.source_max_peers)`,
		},
		{
			name: "window of zero",
			in:   input{file: "swarm:\n  source_window: 0\n"},
			key:  "swarm.source_window",
			want: "config: swarm.source_window: 0s is out of range; want 1s to 24h (set in ",
		},
		{
			name: "window without a unit",
			in:   input{env: []string{"SWARMLIGHT_SWARM_SOURCE_WINDOW=600"}},
			key:  "swarm.source_window",
			want: `config: swarm.source_window: want a duration with a unit, like 30m, 90s or 1h30m; got "600", which has no unit`,
		},
		{
			name: "retention beyond 30 days",
			in:   input{flags: []string{"--tracker.torrent_retention=721h"}},
			key:  "tracker.torrent_retention",
			want: "config: tracker.torrent_retention: 721h is out of range; want 0s to 720h (set by --tracker.torrent_retention)",
		},
		{
			name: "negative retention",
			in:   input{file: "tracker:\n  torrent_retention: -1h\n"},
			key:  "tracker.torrent_retention",
			want: "config: tracker.torrent_retention: -1h is out of range; want 0s to 720h",
		},
		{
			name: "max_torrents of zero",
			in:   input{env: []string{"SWARMLIGHT_SWARM_MAX_TORRENTS=0"}},
			key:  "swarm.max_torrents",
			want: "config: swarm.max_torrents: 0 is out of range; want at least 1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.ram = fakeRAM(piZero2W, 0)
			cfg, err := load(t, tt.in)
			if err == nil {
				t.Fatalf("Load succeeded with %+v", cfg.Swarm)
			}
			var es Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("want one config error, got %T: %v", err, err)
			}
			var ke *KeyError
			if !errors.As(err, &ke) || ke.Key != tt.key {
				t.Fatalf("error does not name %s: %#v", tt.key, ke)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
		})
	}
}
