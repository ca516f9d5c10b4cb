package config

import (
	"bufio"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// documentedFile is the config file shipped in the repository.
const documentedFile = "../../configs/swarmlight.yaml"

// TestDocumentedFile keeps configs/swarmlight.yaml and the schema from drifting: the
// file must spell out every key, and say exactly the defaults.
func TestDocumentedFile(t *testing.T) {
	cfg, err := Load(Options{File: documentedFile, SearchPaths: []string{}, Env: []string{}})
	if err != nil {
		t.Fatalf("load %s: %v", documentedFile, err)
	}
	if !reflect.DeepEqual(cfg, Default()) {
		t.Errorf("%s differs from the defaults:\n got %+v\nwant %+v", documentedFile, cfg, Default())
	}
	body, err := os.ReadFile(documentedFile)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := yamlKeys(t, string(body)), Keys(); !slices.Equal(got, want) {
		t.Errorf("%s keys, in order:\n got %v\nwant %v", documentedFile, got, want)
	}
}

// TestYAMLRoundTrip checks that check-config's output is itself a config file that
// loads back to the same configuration, with every key spelled out.
func TestYAMLRoundTrip(t *testing.T) {
	custom := Default()
	custom.HTTP.Listen = []string{"127.0.0.1:0", "[::1]:8080"}
	custom.HTTP.IdleTimeout = 1500 * time.Millisecond
	custom.HTTP.MaxConnectionsPerSource = 0
	custom.Tracker.Interval = 90 * time.Minute
	custom.Tracker.PeerTimeout = 100 * time.Hour
	custom.Tracker.FullScrape = true
	custom.Tracker.AllowedNetworks = prefixes(t, "0.0.0.0/0", "::/0")
	custom.Tracker.TorrentRetention = 0
	custom.Swarm.MaxMemory, custom.Swarm.MaxMemoryAuto, custom.Swarm.MachineRAM = 96<<20, false, 0
	custom.Swarm.SourceMaxNewTorrents = 0
	custom.Swarm.SourceWindow = 90 * time.Second
	custom.Log.Format = "json"
	custom.Log.Level = slog.LevelDebug
	custom.Process.LockMemory = false
	oddBytes := Default()
	oddBytes.Swarm.MaxMemory, oddBytes.Swarm.MaxMemoryAuto, oddBytes.Swarm.MachineRAM = 500000000, false, 0

	tests := []struct {
		name  string
		cfg   Config
		lines string // the max_memory line and its note
	}{
		{"defaults", Default(), "  max_memory: auto\n  # effective: " + formatBytes(Default().Swarm.MaxMemory) + " ("},
		{"custom", custom, "  max_memory: 96MiB\n  # effective: 96 MiB\n"},
		{"budget in bytes", oddBytes, "  max_memory: 500000000\n  # effective: 476.8 MiB\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			text := cfg.YAML()
			if !strings.Contains(text, tt.lines) {
				t.Errorf("YAML() lacks %q:\n%s", tt.lines, text)
			}
			back, err := load(t, input{file: text})
			if err != nil {
				t.Fatalf("load YAML(): %v\n%s", err, text)
			}
			if !reflect.DeepEqual(back, cfg) {
				t.Fatalf("round trip:\n got %+v\nwant %+v\n%s", back, cfg, text)
			}
			if got := yamlKeys(t, text); !slices.Equal(got, Keys()) {
				t.Fatalf("YAML() keys %v, want %v", got, Keys())
			}
		})
	}
}

// yamlKeys lists the section.key names a two-level YAML file sets, in order. It reads
// lines rather than parsing, to see what the file spells out rather than what a
// loader fills in.
func yamlKeys(t *testing.T, body string) []string {
	t.Helper()
	var keys []string
	section := ""
	sc := bufio.NewScanner(strings.NewReader(body))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		name, _, isKey := strings.Cut(trimmed, ":")
		if trimmed == "" || strings.HasPrefix(trimmed, "#") || strings.HasPrefix(trimmed, "-") || !isKey {
			continue
		}
		switch {
		case !strings.HasPrefix(line, " "):
			section = name
		case strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "   "):
			keys = append(keys, section+"."+name)
		}
	}
	return keys
}
