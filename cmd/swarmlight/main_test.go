package main

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// configFile writes a config file for one test; tests always name one so a file in
// /etc/swarmlight or ./configs on the test machine cannot change the outcome.
func configFile(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "swarmlight.yaml")
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRun(t *testing.T) {
	// run reads the process environment; keep a developer's SWARMLIGHT_* out of it.
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "")
		}
	}
	good := configFile(t, "log:\n  level: debug\n")
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantStatus int
		wantStdout []string
		wantStderr []string
	}{
		{
			name:       "version",
			args:       []string{"version"},
			wantStatus: 0,
			wantStdout: []string{"swarmlight dev\n"},
		},
		{
			name:       "help",
			args:       []string{"help"},
			wantStatus: 0,
			wantStdout: []string{"Usage:", "check-config", "--tracker.interval duration", "SWARMLIGHT_TRACKER_INTERVAL"},
		},
		{
			name:       "-h before any command means serve's help",
			args:       []string{"-h"},
			wantStatus: 0,
			wantStdout: []string{"Usage:"},
		},
		{
			name:       "unknown flag",
			args:       []string{"--tracker.intervall", "10m"},
			wantStatus: 2,
			wantStderr: []string{"swarmlight: unknown flag: --tracker.intervall", "Usage:"},
		},
		{
			name:       "flag without its value",
			args:       []string{"check-config", "--tracker.interval"},
			wantStatus: 2,
			wantStderr: []string{"flag needs an argument", "Usage:"},
		},
		{
			name:       "stray argument",
			args:       []string{"serve", "--tracker.full_scrape", "false"},
			wantStatus: 2,
			wantStderr: []string{`unexpected argument "false"`, "--tracker.full_scrape=false"},
		},
		{
			name:       "unknown command",
			args:       []string{"start"},
			wantStatus: 2,
			wantStderr: []string{`swarmlight: unknown command "start"`},
		},
		{
			name:       "version with arguments",
			args:       []string{"version", "--short"},
			wantStatus: 2,
		},
		{
			name:       "bad config file",
			args:       []string{"serve", "--config", configFile(t, "tracker:\n  intervall: 10m\n  interval: 5s\n")},
			wantStatus: 78,
			wantStderr: []string{"config: tracker.intervall: unknown key", "config: tracker.interval: 5s is out of range"},
		},
		{
			name:       "YAML syntax error",
			args:       []string{"--config", configFile(t, "tracker: [\n")},
			wantStatus: 78,
			wantStderr: []string{"config: file: "},
		},
		{
			name:       "missing config file",
			args:       []string{"check-config", "--config", filepath.Join(t.TempDir(), "nope.yaml")},
			wantStatus: 78,
			wantStderr: []string{"config: file: ", "nope.yaml: no such file or directory"},
		},
		{
			name:       "bad flag value is a config error",
			args:       []string{"--config", good, "--tracker.interval", "1800"},
			wantStatus: 78,
			wantStderr: []string{"config: tracker.interval: ", "no unit (set by --tracker.interval)"},
		},
		{
			name:       "bad env value is a config error",
			args:       []string{"check-config", "--config", good},
			env:        map[string]string{"SWARMLIGHT_TRACKER_ALLOWED_NETWORKS": "10.0.0.0/8,everyone"},
			wantStatus: 78,
			wantStderr: []string{`config: tracker.allowed_networks: "everyone" is not a network`},
		},
		{
			name:       "check-config prints every key",
			args:       []string{"check-config", "--config", good, "--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0"},
			wantStatus: 0,
			// "memory can" also begins "memory cannot be locked", the answer without root.
			wantStdout: append([]string{"level: debug", `- "127.0.0.1:0"`, "peer_timeout: 45m",
				"\n  lock_memory: true\n  # here: memory can",
				// What a reload cannot always apply is named under its key.
				"\n  peer_timeout: 45m\n  # a reload applies it between 1/16 and 4 times",
				"\n  workers: 0\n  # a reload applies it on Linux"}, yamlLeaves()...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			status := run(tt.args, &stdout, &stderr)
			if status != tt.wantStatus {
				t.Errorf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", status, tt.wantStatus, &stdout, &stderr)
			}
			for _, want := range tt.wantStdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, &stdout)
				}
			}
			for _, want := range tt.wantStderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, &stderr)
				}
			}
			if tt.wantStatus == 0 && stderr.Len() > 0 {
				t.Errorf("stderr not empty on success:\n%s", &stderr)
			}
		})
	}
}

// yamlLeaves is every section and key as its line in the YAML output starts:
// "tracker:" and "  interval:".
func yamlLeaves() []string {
	var leaves []string
	for _, k := range config.Keys() {
		sec, leaf, _ := strings.Cut(k, ".")
		leaves = append(leaves, sec+":\n", "\n  "+leaf+":")
	}
	return leaves
}

// TestCheckConfigBusyPort checks that check-config reports an address the tracker
// could not bind, naming the key.
func TestCheckConfigBusyPort(t *testing.T) {
	busy := holdPort(t)
	var stdout, stderr bytes.Buffer
	status := run([]string{"check-config", "--config", configFile(t, ""), "--http.listen", busy, "--udp.listen", "127.0.0.1:0"}, &stdout, &stderr)
	if status != 78 || !strings.Contains(stderr.String(), `config: http.listen: "`+busy+`": address already in use`) {
		t.Fatalf("status %d, stderr:\n%s", status, &stderr)
	}
	if stdout.Len() > 0 {
		t.Errorf("stdout not empty on failure:\n%s", &stdout)
	}
}

// holdPort listens on a loopback port for the rest of the test and returns its
// address.
func holdPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return ln.Addr().String()
}

// TestCheckConfigMemoryBudget runs check-config and finds the line with the store's
// effective budget right under max_memory, then feeds the output back to
// check-config as its config file: the comment must keep it a loadable file that
// means the same.
func TestCheckConfigMemoryBudget(t *testing.T) {
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "")
		}
	}
	tests := []struct {
		name   string
		args   []string
		env    string // SWARMLIGHT_SWARM_MAX_MEMORY
		value  string // the max_memory line
		budget string // the start of the comment line under it
	}{
		{"auto", nil, "", "  max_memory: auto\n", "  # effective: "},
		{"explicit by flag", []string{"--swarm.max_memory", "96MiB"}, "", "  max_memory: 96MiB\n", "  # effective: 96 MiB\n"},
		{"explicit in bytes by env", nil, "500000000", "  max_memory: 500000000\n", "  # effective: 476.8 MiB\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(config.EnvName("swarm.max_memory"), tt.env)
			args := append([]string{"check-config", "--config", configFile(t, ""),
				"--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0"}, tt.args...)
			var stdout, stderr bytes.Buffer
			if status := run(args, &stdout, &stderr); status != 0 {
				t.Fatalf("status %d, stderr:\n%s", status, &stderr)
			}
			out := stdout.String()
			if !strings.Contains(out, tt.value+tt.budget) {
				t.Fatalf("no %q line under %q:\n%s", tt.budget, tt.value, out)
			}
			if tt.name == "auto" && !strings.Contains(out, "of RAM") && !strings.Contains(out, "assumed") {
				t.Errorf("the auto budget does not say where it came from:\n%s", out)
			}

			var again bytes.Buffer
			if status := run([]string{"check-config", "--config", configFile(t, out)}, &again, &stderr); status != 0 {
				t.Fatalf("check-config's output does not load as a config file: status %d, stderr:\n%s\nfile:\n%s", status, &stderr, out)
			}
			if again.String() != out {
				t.Fatalf("loading check-config's output gave a different configuration:\n%s\nwant\n%s", &again, out)
			}
		})
	}
}
