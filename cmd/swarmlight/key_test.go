package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
)

func TestKeyCommand(t *testing.T) {
	d := newAccessDir(t, "private")
	cfg := []string{"--config", d.cfg, "--http.listen", "127.0.0.1:7001", "--udp.listen", "[::1]:7002"}
	keyLine := regexp.MustCompile(`(?m)^  ([0-9a-f]{32})$`)

	steps := []struct {
		name       string
		args       []string
		wantStatus int
		wantStdout []string
		wantStderr []string
		wantLabels string
	}{
		{"add", []string{"key", "add", "alice"}, 0, []string{"alice's passkey, shown only this once", "http://127.0.0.1:7001/KEY/announce", "udp://[::1]:7002/KEY/announce"}, nil, "alice"},
		{"add another", []string{"key", "add", "bob@home.lan"}, 0, []string{"bob@home.lan's passkey"}, nil, "alice bob@home.lan"},
		{"label taken", []string{"key", "add", "alice"}, 2, nil, []string{`"alice" is already a member`}, "alice bob@home.lan"},
		{"bad label", []string{"key", "add", "al ice"}, 2, nil, []string{"letters, digits"}, "alice bob@home.lan"},
		{"bad label characters", []string{"key", "add", "al/ice"}, 2, nil, []string{"letters, digits"}, "alice bob@home.lan"},
		{"list", []string{"key", "list"}, 0, []string{"2 members in " + d.keys + "\nalice\nbob@home.lan\n"}, nil, "alice bob@home.lan"},
		{"revoke unknown", []string{"key", "revoke", "carol"}, 2, nil, []string{`no member is labelled "carol"`}, "alice bob@home.lan"},
		{"revoke", []string{"key", "revoke", "alice"}, 0, []string{"revoked alice's key"}, nil, "bob@home.lan"},
		{"two labels", []string{"key", "add", "carol", "dave"}, 2, nil, []string{"key add needs one LABEL"}, "bob@home.lan"},
		{"unknown subcommand", []string{"key", "show"}, 2, nil, []string{"key show"}, "bob@home.lan"},
	}
	for _, s := range steps {
		var stdout, stderr bytes.Buffer
		status := run(append(append([]string{}, s.args...), cfg...), &stdout, &stderr)
		if status != s.wantStatus {
			t.Fatalf("%s: status %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, status, s.wantStatus, &stdout, &stderr)
		}
		key := ""
		if m := keyLine.FindStringSubmatch(stdout.String()); m != nil {
			key = m[1]
		}
		for _, w := range s.wantStdout {
			w = strings.ReplaceAll(w, "KEY", key)
			if !strings.Contains(stdout.String(), w) {
				t.Fatalf("%s: stdout lacks %q:\n%s", s.name, w, &stdout)
			}
		}
		for _, w := range s.wantStderr {
			if !strings.Contains(stderr.String(), w) {
				t.Fatalf("%s: stderr lacks %q:\n%s", s.name, w, &stderr)
			}
		}
		ms, err := access.ReadMembersFile(d.keys)
		if err != nil {
			t.Fatal(err)
		}
		var labels []string
		for _, m := range ms {
			labels = append(labels, m.Label)
		}
		if strings.Join(labels, " ") != s.wantLabels {
			t.Fatalf("%s: members %q, want %q", s.name, labels, s.wantLabels)
		}
		text, _ := os.ReadFile(d.keys)
		if key != "" {
			if strings.Contains(string(text), key) {
				t.Fatalf("%s: the key file holds the key itself", s.name)
			}
			if d := access.Digest(key); !strings.Contains(string(text), access.Member{Label: labels[len(labels)-1], Digest: d}.String()) {
				t.Fatalf("%s: the key file lacks the key's hash:\n%s", s.name, text)
			}
		}
	}
	if fi, err := os.Stat(d.keys); err != nil || fi.Mode().Perm() != access.KeyFileMode {
		t.Fatalf("key file: %v, mode %v, want %v", err, fi.Mode().Perm(), access.KeyFileMode)
	}
}

func TestKeyCommandNotPrivate(t *testing.T) {
	d := newAccessDir(t, "open")
	var stdout, stderr bytes.Buffer
	if status := run([]string{"key", "add", "alice", "--config", d.cfg}, &stdout, &stderr); status != 0 {
		t.Fatalf("status %d; stderr:\n%s", status, &stderr)
	}
	if !strings.Contains(stdout.String(), "not in use: access.mode is open") {
		t.Fatalf("no word that keys are not checked in open mode:\n%s", &stdout)
	}
	stderr.Reset()
	missing := filepath.Join(d.dir, "etc", "passkeys")
	if status := run([]string{"key", "add", "bob", "--config", d.cfg, "--access.key_file", missing}, &stdout, &stderr); status != exitConfig {
		t.Fatalf("key file in a missing directory: status %d, want %d; stderr:\n%s", status, exitConfig, &stderr)
	}
}

func TestMemberURLs(t *testing.T) {
	tests := []struct {
		name      string
		http, udp []string
		want      []string // each is among the URLs
		notWant   string   // no URL contains it
	}{
		{"addresses", []string{"192.0.2.7:6969"}, []string{"[2001:db8::1]:6969"},
			[]string{"http://192.0.2.7:6969/K/announce", "udp://[2001:db8::1]:6969/K/announce"}, "127.0.0.1"},
		{"wildcard", []string{":6969"}, nil, []string{"http://127.0.0.1:6969/K/announce"}, "udp:"},
		{"IPv4 wildcard", nil, []string{"0.0.0.0:7000"}, []string{"udp://127.0.0.1:7000/K/announce"}, "["},
		{"host name", []string{"tracker.lan:80"}, nil, []string{"http://tracker.lan:80/K/announce"}, "udp:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var cfg config.Config
			cfg.HTTP.Listen, cfg.UDP.Listen = tt.http, tt.udp
			urls := memberURLs(cfg, "K")
			all := strings.Join(urls, " ")
			for _, w := range tt.want {
				if !strings.Contains(" "+all+" ", " "+w+" ") {
					t.Errorf("URLs %q lack %q", urls, w)
				}
			}
			if strings.Contains(all, tt.notWant) {
				t.Errorf("URLs %q contain %q", urls, tt.notWant)
			}
		})
	}
}

func TestIsServe(t *testing.T) {
	tests := []struct {
		args []string
		want bool
	}{
		{nil, true},
		{[]string{"serve", "--config", "x"}, true},
		{[]string{"--config", "x"}, true},
		{[]string{"reload"}, false},
		{[]string{"list", "add", "serve"}, false},
		{[]string{"check-config"}, false},
	}
	for _, tt := range tests {
		if got := isServe(tt.args); got != tt.want {
			t.Errorf("isServe(%q) = %v, want %v", tt.args, got, tt.want)
		}
	}
}
