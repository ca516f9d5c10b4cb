package config

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// input describes one Load: a config file body (written to a temp file when
// non-empty), environment lines and command-line arguments.
type input struct {
	file  string
	env   []string
	flags []string
	ram   ramProbe // zero reads this machine's RAM
}

// load runs Load hermetically: no search paths, no process environment.
func load(t *testing.T, in input) (Config, error) {
	t.Helper()
	opts := Options{SearchPaths: []string{}, Env: append([]string{}, in.env...), ram: in.ram}
	if in.file != "" {
		opts.File = writeFile(t, t.TempDir(), in.file)
	}
	opts.Flags = parseFlags(t, in.flags...)
	return Load(opts)
}

func writeFile(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, FileName)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func parseFlags(t *testing.T, args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return fs
}

func TestDefaults(t *testing.T) {
	cfg, err := load(t, input{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Fatalf("Load with nothing set = %+v, want Default() %+v", cfg, Default())
	}
	want := Config{
		HTTP: HTTP{
			Listen:                  []string{":6969"},
			ReadHeaderTimeout:       5 * time.Second,
			WriteTimeout:            10 * time.Second,
			IdleTimeout:             15 * time.Second,
			MaxHeaderBytes:          16384,
			MaxConnections:          1024,
			MaxConnectionsPerSource: 32,
		},
		UDP: UDP{Listen: []string{":6969"}},
		Tracker: Tracker{
			Interval:         30 * time.Minute,
			MinInterval:      15 * time.Minute,
			PeerTimeout:      45 * time.Minute,
			TorrentRetention: 24 * time.Hour,
			NumWantDefault:   50,
			NumWantMax:       200,
			ScrapeMax:        74,
			AllowedNetworks: prefixes(t, "127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12",
				"192.168.0.0/16", "169.254.0.0/16", "fe80::/10", "fc00::/7"),
		},
		Access: Access{AllowFile: "/etc/swarmlight/allow.list", DenyFile: "/etc/swarmlight/deny.list", KeyFile: "/etc/swarmlight/passkeys"},
		Swarm: Swarm{
			MaxMemoryAuto: true, MaxTorrents: 2000000, MaxPeers: 10000000, MaxPeersPerTorrent: 100000,
			SourceMaxNewTorrents: 2000, SourceMaxPeers: 20000, SourceWindow: 10 * time.Minute,
		},
		Panel: Panel{
			Mode: "auto", Name: "swarmlight", PageInterval: 5 * time.Second,
			LEDPower: "sysfs:ACT", LEDActivity: "gpio:GPIO17", LEDSwarm: "gpio:GPIO27", LEDError: "gpio:GPIO22",
			Button: "GPIO23", Display: true, DisplayAddress: 0x3C, DisplayHeight: 64,
		},
		Web:     Web{Enabled: true, Metrics: true, Refresh: 5 * time.Second},
		Catalog: Catalog{Dir: "/var/lib/swarmlight/catalog", MaxTorrentSize: 4 << 20},
		Log:     Log{Level: slog.LevelInfo, Format: "text"},
		Process: Process{LockMemory: true},
	}
	// "auto" depends on this machine; memory_test.go checks the arithmetic.
	resolveMemory(&want.Swarm, machine)
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults = %+v\nwant       %+v", cfg, want)
	}
}

func prefixes(t *testing.T, ss ...string) []netip.Prefix {
	t.Helper()
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func TestPrecedence(t *testing.T) {
	tests := []struct {
		name string
		in   input
		want func(*Config) // applied to Default() to give the expected result
	}{
		{
			name: "file overrides defaults and derives peer_timeout",
			in:   input{file: "tracker:\n  interval: 10m\n  min_interval: 5m\n"},
			want: func(c *Config) {
				c.Tracker.Interval, c.Tracker.MinInterval, c.Tracker.PeerTimeout = 10*time.Minute, 5*time.Minute, 15*time.Minute
			},
		},
		{
			name: "env overrides file",
			in: input{
				file: "tracker:\n  interval: 20m\n",
				env:  []string{"SWARMLIGHT_TRACKER_INTERVAL=40m"},
			},
			want: func(c *Config) { c.Tracker.Interval, c.Tracker.PeerTimeout = 40*time.Minute, 60*time.Minute },
		},
		{
			name: "flags override env",
			in: input{
				file:  "tracker:\n  interval: 20m\n",
				env:   []string{"SWARMLIGHT_TRACKER_INTERVAL=40m"},
				flags: []string{"--tracker.interval", "1h"},
			},
			want: func(c *Config) { c.Tracker.Interval, c.Tracker.PeerTimeout = time.Hour, 90*time.Minute },
		},
		{
			name: "flags left unset do not override",
			in: input{
				env:   []string{"SWARMLIGHT_TRACKER_SCRAPE_MAX=10"},
				flags: []string{"--log.level", "debug"},
			},
			want: func(c *Config) { c.Tracker.ScrapeMax, c.Log.Level = 10, slog.LevelDebug },
		},
		{
			name: "empty env var counts as unset",
			in:   input{file: "log:\n  format: json\n", env: []string{"SWARMLIGHT_LOG_FORMAT="}},
			want: func(c *Config) { c.Log.Format = "json" },
		},
		{
			name: "first of duplicate env vars wins",
			in:   input{env: []string{"SWARMLIGHT_LOG_FORMAT=json", "SWARMLIGHT_LOG_FORMAT=xml"}},
			want: func(c *Config) { c.Log.Format = "json" },
		},
		{
			name: "env list splits on commas and spaces",
			in:   input{env: []string{"SWARMLIGHT_HTTP_LISTEN=127.0.0.1:1, [::1]:2  :3"}},
			want: func(c *Config) { c.HTTP.Listen = []string{"127.0.0.1:1", "[::1]:2", ":3"} },
		},
		{
			name: "flag list repeated and comma separated replaces the default",
			in:   input{flags: []string{"--http.listen", "127.0.0.1:1", "--http.listen=127.0.0.1:2,127.0.0.1:3"}},
			want: func(c *Config) { c.HTTP.Listen = []string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"} },
		},
		{
			name: "bool flag alone means true",
			in:   input{flags: []string{"--tracker.full_scrape"}},
			want: func(c *Config) { c.Tracker.FullScrape = true },
		},
		{
			name: "bool flag false beats env true",
			in:   input{env: []string{"SWARMLIGHT_TRACKER_ALLOW_IP_PARAM=true"}, flags: []string{"--tracker.allow_ip_param=false"}},
			want: func(c *Config) {},
		},
		{
			name: "yaml values of every kind",
			in: input{file: `
http:
  listen: ["127.0.0.1:6969", "[::1]:6969"]
  max_header_bytes: "8192"
tracker:
  interval: 1h30m
  peer_timeout: 2h
  numwant_max: 1e3
  full_scrape: true
  allowed_networks: ["0.0.0.0/0", "::/0"]
swarm:
  max_peers: 5000
log:
  level: DEBUG
  format: json
`},
			want: func(c *Config) {
				c.HTTP.Listen = []string{"127.0.0.1:6969", "[::1]:6969"}
				c.HTTP.MaxHeaderBytes = 8192
				c.Tracker.Interval, c.Tracker.PeerTimeout = 90*time.Minute, 2*time.Hour
				c.Tracker.NumWantMax = 1000
				c.Tracker.FullScrape = true
				c.Tracker.AllowedNetworks = prefixes(t, "0.0.0.0/0", "::/0")
				c.Swarm.MaxPeers = 5000
				c.Log = Log{Level: slog.LevelDebug, Format: "json"}
			},
		},
		{
			name: "host bits in a CIDR are masked",
			in:   input{env: []string{"SWARMLIGHT_TRACKER_ALLOWED_NETWORKS=192.168.1.7/24 fd12::1/64"}},
			want: func(c *Config) { c.Tracker.AllowedNetworks = prefixes(t, "192.168.1.0/24", "fd12::/64") },
		},
		{
			name: "dotted keys at the top of the file",
			in:   input{file: "tracker.scrape_max: 9\n"},
			want: func(c *Config) { c.Tracker.ScrapeMax = 9 },
		},
		{
			name: "keys are not case sensitive in the file",
			in:   input{file: "Tracker:\n  Scrape_Max: 9\n"},
			want: func(c *Config) { c.Tracker.ScrapeMax = 9 },
		},
		{
			name: "empty file and empty section and empty value mean defaults",
			in:   input{file: "tracker:\nlog:\n  level:\n"},
			want: func(c *Config) {},
		},
		{
			name: "zero duration without a unit is unambiguous",
			in:   input{file: "tracker:\n  peer_timeout: 0\n"},
			want: func(c *Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := load(t, tt.in)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tt.want(&want)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

func TestFileSearch(t *testing.T) {
	empty, first, second := t.TempDir(), t.TempDir(), t.TempDir()
	writeFile(t, first, "tracker:\n  scrape_max: 1\n")
	writeFile(t, second, "tracker:\n  scrape_max: 2\n")
	explicit := writeFile(t, t.TempDir(), "tracker:\n  scrape_max: 3\n")
	viaFlag := writeFile(t, t.TempDir(), "tracker:\n  scrape_max: 4\n")

	tests := []struct {
		name string
		opts Options
		want int
	}{
		{"no file anywhere means defaults", Options{SearchPaths: []string{empty}}, 74},
		{"first search path with the file wins", Options{SearchPaths: []string{empty, first, second}}, 1},
		{"explicit file beats the search", Options{File: explicit, SearchPaths: []string{first}}, 3},
		{"--config beats the search", Options{SearchPaths: []string{first}, Flags: parseFlags(t, "--config", viaFlag)}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Env = []string{}
			cfg, err := Load(tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Tracker.ScrapeMax != tt.want {
				t.Fatalf("scrape_max = %d, want %d", cfg.Tracker.ScrapeMax, tt.want)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name string
		in   input
		opts *Options // when set, used instead of in
		want []string // each must be a whole line's substring, one line per want
	}{
		{
			name: "unknown key with a suggestion",
			in:   input{file: "tracker:\n  intervall: 10m\n"},
			want: []string{"config: tracker.intervall: unknown key; did you mean tracker.interval? (in "},
		},
		{
			name: "unknown key with a null value",
			in:   input{file: "tracker:\n  bogus:\n"},
			want: []string{"config: tracker.bogus: unknown key (in "},
		},
		{
			name: "unknown section",
			in:   input{file: "trackr:\n  interval: 10m\nwhatever: 1\n"},
			want: []string{"config: trackr: unknown key; did you mean tracker?", "config: whatever: unknown key"},
		},
		{
			name: "value where a section belongs",
			in:   input{file: "tracker: 5\n"},
			want: []string{"config: tracker: want a section of tracker.* keys; got 5"},
		},
		{
			name: "mapping where a value belongs",
			in:   input{file: "http:\n  listen:\n    a: b\n"},
			want: []string{"config: http.listen: want a list; got a mapping"},
		},
		{
			name: "bad CIDR in the file",
			in:   input{file: "tracker:\n  allowed_networks: [10.0.0.0/8, 10.0.0.0/33]\n"},
			want: []string{`config: tracker.allowed_networks: "10.0.0.0/33" is not a network in CIDR notation`},
		},
		{
			name: "bad CIDR from env names the variable",
			in:   input{env: []string{"SWARMLIGHT_TRACKER_ALLOWED_NETWORKS=10.0.0.1"}},
			want: []string{`config: tracker.allowed_networks: "10.0.0.1" is not a network in CIDR notation, like 192.168.0.0/16 or fd00::/8 (set by SWARMLIGHT_TRACKER_ALLOWED_NETWORKS)`},
		},
		{
			name: "empty CIDR list",
			in:   input{file: "tracker:\n  allowed_networks: []\n"},
			want: []string{`config: tracker.allowed_networks: want at least one network; ["0.0.0.0/0", "::/0"] allows everyone`},
		},
		{
			name: "bad duration",
			in:   input{file: "tracker:\n  interval: soon\n"},
			want: []string{`config: tracker.interval: want a duration with a unit, like 30m, 90s or 1h30m; got "soon"`},
		},
		{
			name: "bare integer duration in the file",
			in:   input{file: "tracker:\n  interval: 1800\n"},
			want: []string{"config: tracker.interval: want a duration with a unit, like 30m, 90s or 1h30m; got 1800, which has no unit"},
		},
		{
			name: "bare integer duration from a flag",
			in:   input{flags: []string{"--http.idle_timeout", "60"}},
			want: []string{`config: http.idle_timeout: want a duration with a unit, like 30m, 90s or 1h30m; got "60", which has no unit (set by --http.idle_timeout)`},
		},
		{
			name: "bad int",
			in:   input{env: []string{"SWARMLIGHT_SWARM_MAX_PEERS=lots"}},
			want: []string{`config: swarm.max_peers: want a whole number; got "lots" (set by SWARMLIGHT_SWARM_MAX_PEERS)`},
		},
		{
			name: "fractional int",
			in:   input{file: "swarm:\n  max_peers: 1.5\n"},
			want: []string{"config: swarm.max_peers: want a whole number; got 1.5"},
		},
		{
			name: "huge int",
			in:   input{file: "swarm:\n  max_peers: 99999999999999999999\n"},
			want: []string{"config: swarm.max_peers:"},
		},
		{
			name: "bad bool",
			in:   input{file: "tracker:\n  full_scrape: sometimes\n"},
			want: []string{`config: tracker.full_scrape: want true or false; got "sometimes"`},
		},
		{
			name: "out of range",
			in:   input{file: "tracker:\n  numwant_max: 5000\n  interval: 5s\nhttp:\n  max_connections: 0\n  max_header_bytes: 100\n"},
			want: []string{
				"config: http.max_header_bytes: 100 is out of range; want 4096 to 1048576",
				"config: http.max_connections: 0 is out of range; want at least 1",
				"config: tracker.interval: 5s is out of range; want 10s to 24h",
				"config: tracker.numwant_max: 5000 is out of range; want 1 to 1000",
			},
		},
		{
			name: "negative per-source connection cap",
			in:   input{flags: []string{"--http.max_connections_per_source", "-1"}},
			want: []string{"config: http.max_connections_per_source: -1 is out of range; want at least 0 (set by --http.max_connections_per_source)"},
		},
		{
			name: "min_interval longer than interval",
			in:   input{flags: []string{"--tracker.min_interval", "40m"}},
			want: []string{"config: tracker.min_interval: 40m is longer than tracker.interval 30m"},
		},
		{
			name: "peer_timeout not longer than interval",
			in:   input{file: "tracker:\n  peer_timeout: 30m\n"},
			want: []string{"config: tracker.peer_timeout: 30m is not longer than tracker.interval 30m"},
		},
		{
			name: "peer_timeout beyond a week",
			in:   input{file: "tracker:\n  peer_timeout: 200h\n"},
			want: []string{"config: tracker.peer_timeout: 200h is out of range; want 0s to 168h"},
		},
		{
			name: "numwant_default above numwant_max",
			in:   input{env: []string{"SWARMLIGHT_TRACKER_NUMWANT_DEFAULT=300"}},
			want: []string{"config: tracker.numwant_default: 300 is more than tracker.numwant_max 200"},
		},
		{
			name: "bad log level",
			in:   input{file: "log:\n  level: loud\n"},
			want: []string{`config: log.level: want debug, info, warn or error; got "loud"`},
		},
		{
			name: "bad log format",
			in:   input{flags: []string{"--log.format", "xml"}},
			want: []string{`config: log.format: want text or json; got "xml" (set by --log.format)`},
		},
		{
			name: "listen address without a port",
			in:   input{env: []string{"SWARMLIGHT_HTTP_LISTEN=6969"}},
			want: []string{`config: http.listen: "6969" is not host:port`},
		},
		{
			name: "listen port out of range",
			in:   input{flags: []string{"--http.listen", ":70000"}},
			want: []string{`config: http.listen: ":70000": the port must be a number from 0 to 65535`},
		},
		{
			name: "listen address twice",
			in:   input{flags: []string{"--http.listen", ":1,:1"}},
			want: []string{`config: http.listen: ":1" is listed twice`},
		},
		{
			name: "listen list empty",
			in:   input{env: []string{"SWARMLIGHT_HTTP_LISTEN= , "}},
			want: []string{`config: http.listen: want at least one address`},
		},
		{
			name: "listen entry not text",
			in:   input{file: "http:\n  listen: [6969]\n"},
			want: []string{"config: http.listen: want a list of text entries; entry 1 is 6969"},
		},
		{
			name: "YAML syntax error",
			in:   input{file: "tracker:\n  interval: [10m\n"},
			want: []string{"config: file: ", "swarmlight.yaml: line "},
		},
		{
			name: "file that is not a mapping",
			in:   input{file: "- a\n- b\n"},
			want: []string{"config: file: ", "want a mapping of sections"},
		},
		{
			name: "explicit file missing",
			opts: &Options{File: missing},
			want: []string{"config: file: " + missing + ": no such file or directory"},
		},
		{
			name: "--config file missing",
			opts: &Options{Flags: parseFlags(t, "--config", missing)},
			want: []string{"config: file: " + missing + ": no such file or directory"},
		},
		{
			name: "--config empty",
			opts: &Options{Flags: parseFlags(t, "--config=")},
			want: []string{"config: file: --config names no file"},
		},
		{
			name: "explicit file is a directory",
			opts: &Options{File: t.TempDir()},
			want: []string{"is a directory"},
		},
		{
			name: "every problem at once",
			in: input{
				file:  "tracker:\n  intervall: 10m\n  interval: 30\nlog:\n  level: loud\n",
				env:   []string{"SWARMLIGHT_SWARM_MAX_TORRENTS=0"},
				flags: []string{"--tracker.allowed_networks", "lan"},
			},
			want: []string{
				"config: tracker.intervall: unknown key",
				"config: tracker.interval: want a duration with a unit",
				`config: tracker.allowed_networks: "lan" is not a network`,
				"config: swarm.max_torrents: 0 is out of range; want at least 1 (set by SWARMLIGHT_SWARM_MAX_TORRENTS)",
				`config: log.level: want debug, info, warn or error; got "loud" (set in `,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.opts != nil {
				opts := *tt.opts
				opts.SearchPaths, opts.Env = []string{}, []string{}
				_, err = Load(opts)
			} else {
				_, err = load(t, tt.in)
			}
			if err == nil {
				t.Fatal("Load succeeded, want errors")
			}
			var es Errors
			if !errors.As(err, &es) || !IsConfigError(err) {
				t.Fatalf("error %T is not config.Errors", err)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(es) {
				t.Fatalf("%d lines for %d errors: an error spans lines:\n%v", len(lines), len(es), err)
			}
			for _, want := range tt.want {
				if !containsLine(lines, want) {
					t.Errorf("no error line contains %q; got:\n%v", want, err)
				}
			}
			if wantN := wantCount(tt.want); len(es) != wantN {
				t.Errorf("got %d errors, want %d:\n%v", len(es), wantN, err)
			}
		})
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if strings.Contains(l, want) {
			return true
		}
	}
	return false
}

// wantCount is how many errors a want list describes: fragments that start with
// "config: " each name an error; the others add detail to one of them.
func wantCount(want []string) int {
	n := 0
	for _, w := range want {
		if strings.HasPrefix(w, "config: ") {
			n++
		}
	}
	return max(n, 1)
}

func TestEnvName(t *testing.T) {
	tests := map[string]string{
		"http.listen":                 "SWARMLIGHT_HTTP_LISTEN",
		"tracker.interval":            "SWARMLIGHT_TRACKER_INTERVAL",
		"swarm.max_peers_per_torrent": "SWARMLIGHT_SWARM_MAX_PEERS_PER_TORRENT",
	}
	for key, want := range tests {
		if got := EnvName(key); got != want {
			t.Errorf("EnvName(%q) = %q, want %q", key, got, want)
		}
	}
}
