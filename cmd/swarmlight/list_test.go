package main

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// accessDir is a directory for the access files and a config naming them.
type accessDir struct {
	dir, cfg, allow, deny, keys string
}

func newAccessDir(t *testing.T, mode string) *accessDir {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "")
		}
	}
	d := &accessDir{dir: t.TempDir()}
	d.allow = filepath.Join(d.dir, "allow.list")
	d.deny = filepath.Join(d.dir, "deny.list")
	d.keys = filepath.Join(d.dir, "passkeys")
	d.cfg = configFile(t, "access:\n  mode: "+mode+"\n  allow_file: "+d.allow+"\n  deny_file: "+d.deny+"\n  key_file: "+d.keys+"\n")
	return d
}

// torrentFile writes a .torrent whose info dictionary is info and returns its path
// with the hashes a tracker sees for it: SHA-1 of the info dictionary (v1) and
// SHA-256 truncated to 20 bytes (v2).
func torrentFile(t *testing.T, dir, name string, info map[string]any) (path, v1, v2 string) {
	t.Helper()
	ib, err := bencode.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := bencode.Marshal(map[string]any{"announce": "http://box:6969/announce", "info": bencode.Bytes(ib)})
	if err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, name)
	if err := os.WriteFile(path, tb, 0o644); err != nil {
		t.Fatal(err)
	}
	s1, s2 := sha1.Sum(ib), sha256.Sum256(ib)
	return path, hex.EncodeToString(s1[:]), hex.EncodeToString(s2[:20])
}

func TestListCommand(t *testing.T) {
	d := newAccessDir(t, "listed")
	v1Info := map[string]any{"name": "term1.iso", "length": 5, "piece length": 16384, "pieces": string(make([]byte, 20))}
	hybridInfo := map[string]any{"name": "term2.iso", "length": 5, "piece length": 16384, "pieces": string(make([]byte, 20)),
		"meta version": 2, "file tree": map[string]any{"term2.iso": map[string]any{"": map[string]any{"length": 5, "pieces root": string(make([]byte, 32))}}}}
	v1Torrent, v1Hash, _ := torrentFile(t, d.dir, "term1.torrent", v1Info)
	hybrid, hv1, hv2 := torrentFile(t, d.dir, "term2.torrent", hybridInfo)
	if err := os.WriteFile(filepath.Join(d.dir, "junk.torrent"), []byte("not bencode"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := strings.Repeat("ab", 20)
	badHash := strings.Repeat("ab", 19) + "zz"
	cfg := []string{"--config", d.cfg}

	// Steps run in order on the same files.
	steps := []struct {
		name       string
		args       []string
		wantStatus int
		wantStdout []string
		wantStderr []string
		file       string // the allow list afterwards contains each line of it; "-": unchanged
	}{
		{"add a hash", []string{"list", "add", h}, 0, []string{"added " + h, "1 added"}, nil, h},
		{"add it again", []string{"list", "add", strings.ToUpper(h)}, 0, []string{h + ": already listed, nothing to do", "0 added"}, nil, "-"},
		{"add a hybrid torrent adds both hashes", []string{"list", "add", hybrid}, 0, []string{"added " + hv1, "added " + hv2, "2 added"}, nil, hv1 + "  # term2.iso (v1)\n" + hv2 + "  # term2.iso (v2)"},
		{"add a v1 torrent, flags after", []string{"list", "add", v1Torrent, "--config", d.cfg}, 0, []string{"added " + v1Hash}, nil, v1Hash},
		{"bad hash", []string{"list", "add", h, badHash}, 2, nil, []string{"argument 2: not an info-hash"}, "-"},
		{"unreadable torrent", []string{"list", "add", filepath.Join(d.dir, "junk.torrent")}, 2, nil, []string{"junk.torrent: not a readable .torrent file"}, "-"},
		{"missing torrent", []string{"list", "add", filepath.Join(d.dir, "none.torrent")}, 2, nil, []string{"none.torrent"}, "-"},
		{"nothing to add", []string{"list", "add"}, 2, nil, []string{"needs one or more"}, "-"},
		{"unknown subcommand", []string{"list", "frob"}, 2, nil, []string{"list frob"}, "-"},
		{"no subcommand", []string{"list"}, 2, nil, []string{"list needs add, remove or show"}, "-"},
		{"help", []string{"list", "--help"}, 0, []string{"swarmlight list add|remove ARG..."}, nil, "-"},
		{"remove", []string{"list", "remove", "magnet:?xt=urn:btih:" + h}, 0, []string{"removed " + h, "1 removed"}, nil, "-"},
		{"remove again", []string{"list", "remove", h}, 0, []string{h + ": not listed, nothing to do"}, nil, "-"},
		{"show", []string{"list", "show"}, 0, []string{"3 info-hashes in " + d.allow + "\n", hv1 + "\n", hv2 + "\n", v1Hash + "\n"}, nil, "-"},
		{"show with an operand", []string{"list", "show", h}, 2, nil, []string{"takes no arguments"}, "-"},
		{"--deny edits the deny list", []string{"list", "add", "--deny", h}, 0, []string{"added " + h, d.deny + ": 1 added (not in use: access.mode is listed)"}, nil, "-"},
		{"show --deny", []string{"list", "show", "--deny"}, 0, []string{"1 info-hash in " + d.deny, h}, nil, "-"},
		{"--deny takes no value", []string{"list", "show", "--deny=yes"}, 2, nil, []string{"--deny takes no value"}, "-"},
	}
	for _, s := range steps {
		before, _ := os.ReadFile(d.allow)
		var stdout, stderr bytes.Buffer
		args := append(append([]string{}, s.args...), cfg...)
		status := run(args, &stdout, &stderr)
		if status != s.wantStatus {
			t.Fatalf("%s: status %d, want %d\nstdout:\n%s\nstderr:\n%s", s.name, status, s.wantStatus, &stdout, &stderr)
		}
		for _, w := range s.wantStdout {
			if !strings.Contains(stdout.String(), w) {
				t.Fatalf("%s: stdout lacks %q:\n%s", s.name, w, &stdout)
			}
		}
		for _, w := range s.wantStderr {
			if !strings.Contains(stderr.String(), w) {
				t.Fatalf("%s: stderr lacks %q:\n%s", s.name, w, &stderr)
			}
		}
		if strings.Contains(stderr.String(), badHash) {
			t.Fatalf("%s: stderr repeats the bad argument:\n%s", s.name, &stderr)
		}
		after, _ := os.ReadFile(d.allow)
		switch {
		case s.file == "-" && s.wantStatus != 0 && !bytes.Equal(before, after):
			t.Fatalf("%s: failed, but the list changed:\n%s", s.name, after)
		case s.file != "-" && !strings.Contains("\n"+string(after), "\n"+s.file):
			t.Fatalf("%s: list lacks %q:\n%s", s.name, s.file, after)
		}
	}
}

// TestListCommandBadFiles: a list that does not parse, or a directory that does not
// exist, is a configuration problem (78), and nothing is written.
func TestListCommandBadFiles(t *testing.T) {
	h := strings.Repeat("cd", 20)
	tests := []struct {
		name    string
		setup   func(d *accessDir) []string // extra args
		wantErr string
	}{
		{"list with a bad line", func(d *accessDir) []string {
			os.WriteFile(d.allow, []byte("# ok\nsecret-ish line\n"), 0o644)
			return nil
		}, "allow.list line 2"},
		{"missing directory", func(d *accessDir) []string {
			return []string{"--access.allow_file", filepath.Join(d.dir, "nope", "allow.list")}
		}, "nope/allow.list: the directory does not exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newAccessDir(t, "listed")
			extra := tt.setup(d)
			before, _ := os.ReadFile(d.allow)
			var stdout, stderr bytes.Buffer
			status := run(append([]string{"list", "add", h, "--config", d.cfg}, extra...), &stdout, &stderr)
			if status != exitConfig || !strings.Contains(stderr.String(), tt.wantErr) {
				t.Fatalf("status %d, want %d; stderr:\n%s", status, exitConfig, &stderr)
			}
			if strings.Contains(stderr.String(), "secret-ish") {
				t.Fatalf("stderr repeats the bad line:\n%s", &stderr)
			}
			if after, _ := os.ReadFile(d.allow); !bytes.Equal(before, after) {
				t.Fatalf("the list changed:\n%s", after)
			}
		})
	}
}

func TestSplitArgs(t *testing.T) {
	tests := []struct {
		args      []string
		wantFlags string
		wantOps   string
		wantDeny  bool
	}{
		{[]string{"a", "b"}, "", "a b", false},
		{[]string{"--config", "x.yaml", "a"}, "--config x.yaml", "a", false},
		{[]string{"a", "--config=x.yaml", "--deny", "b"}, "--config=x.yaml", "a b", true},
		{[]string{"--tracker.full_scrape", "a"}, "--tracker.full_scrape", "a", false},
		{[]string{"--", "--config"}, "", "--config", false},
		{[]string{"-h"}, "-h", "", false},
	}
	for _, tt := range tests {
		flags, ops, set, err := splitArgs(tt.args, "deny")
		if err != nil || strings.Join(flags, " ") != tt.wantFlags || strings.Join(ops, " ") != tt.wantOps || set["deny"] != tt.wantDeny {
			t.Errorf("splitArgs(%q) = %q, %q, %v, %v; want %q, %q, %v", tt.args, flags, ops, set, err, tt.wantFlags, tt.wantOps, tt.wantDeny)
		}
	}
}
