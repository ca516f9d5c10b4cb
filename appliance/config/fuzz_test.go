package config

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoadFile feeds arbitrary file bodies and environment values to Load: whatever
// the input, it must return a config or Errors, never panic.
func FuzzLoadFile(f *testing.F) {
	seeds := []struct{ file, env string }{
		{"", ""},
		{"tracker:\n  interval: 10m\n", "10m"},
		{"tracker: 5\n", "abc"},
		{"- a\n- b\n", "30"},
		{"a: &a [*a]\n", ""},
		{"http:\n  listen: [1, {a: b}, [c]]\n", ",,,"},
		{"tracker:\n  interval: {x: 1}\n  peer_timeout: -5m\n", "-1h"},
		{"1: x\n[1,2]: y\n", "1e309"},
		{"log: {level: [debug]}\nswarm: {max_peers: 1e400}\n", "NaN"},
		{"tracker.interval.x: 1\ntracker:\n  numwant_max: !!binary aGVsbG8=\n", "9223372036854775808"},
		{"\t\x00\xff", "\xff"},
		{"swarm:\n  max_memory: 99999999999999999999GiB\n", "96MB"},
		{"swarm: {max_memory: -8MiB, source_window: 1e9}\n", "auto"},
		{"tracker:\n  torrent_retention: 721h\n", "1GiB"},
	}
	for _, s := range seeds {
		f.Add(s.file, s.env)
	}
	f.Fuzz(func(t *testing.T, file, env string) {
		path := filepath.Join(t.TempDir(), FileName)
		if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		envs := []string{}
		for _, k := range schema {
			envs = append(envs, EnvName(k.name)+"="+env)
		}
		for _, e := range [][]string{{}, envs} {
			cfg, err := Load(Options{File: path, SearchPaths: []string{}, Env: e})
			if err != nil {
				if !IsConfigError(err) {
					t.Fatalf("error %T is not a config error: %v", err, err)
				}
				continue
			}
			if cfg.Tracker.PeerTimeout <= cfg.Tracker.Interval || len(cfg.HTTP.Listen) == 0 ||
				cfg.Swarm.MaxMemory < minMemory || cfg.Swarm.MaxMemory > maxMemory {
				t.Fatalf("invalid config accepted: %+v", cfg)
			}
		}
	})
}
