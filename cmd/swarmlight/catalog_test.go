package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// shelfConfig is a config file whose shelf is a new directory, and that
// directory.
func shelfConfig(t *testing.T, extra string) (cfg, shelf string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if name, _, _ := strings.Cut(kv, "="); strings.HasPrefix(name, config.EnvPrefix) {
			t.Setenv(name, "")
		}
	}
	shelf = filepath.Join(t.TempDir(), "catalog")
	return configFile(t, "catalog:\n  enabled: true\n  dir: "+shelf+"\n  max_torrent_size: 4096\n"+extra), shelf
}

func runCmd(args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	status := run(args, &stdout, &stderr)
	return status, stdout.String(), stderr.String()
}

func shelfFiles(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestCatalogCommand: add puts a valid torrent on the shelf under its hash,
// list shows it, remove takes it off by name or hash; a bad file changes
// nothing and says why.
func TestCatalogCommand(t *testing.T) {
	cfg, shelf := shelfConfig(t, "")
	dir := t.TempDir()
	v1Info := map[string]any{"name": "term1.iso", "length": 5, "piece length": 16384, "pieces": string(make([]byte, 20))}
	v1Torrent, v1Hash, _ := torrentFile(t, dir, "term1.torrent", v1Info)
	other, otherHash, _ := torrentFile(t, dir, "other.torrent", map[string]any{"name": "other.iso", "length": 7, "piece length": 16384, "pieces": string(make([]byte, 20))})
	big, _, _ := torrentFile(t, dir, "big.torrent", map[string]any{"name": "big.iso", "length": 300 * 16384, "piece length": 16384, "pieces": string(make([]byte, 20*300))})
	junk := filepath.Join(dir, "junk.torrent")
	if err := os.WriteFile(junk, []byte("not bencode"), 0o644); err != nil {
		t.Fatal(err)
	}

	steps := []struct {
		name       string
		args       []string
		wantStatus int
		wantStdout []string
		wantStderr []string
		wantFiles  []string
	}{
		{"add", []string{"catalog", "add", v1Torrent}, exitOK, []string{"on the shelf in " + shelf + ": term1.iso (5 B)"}, nil, []string{v1Hash + ".torrent"}},
		{"add another", []string{"catalog", "add", other}, exitOK, nil, nil, []string{otherHash + ".torrent", v1Hash + ".torrent"}},
		{"list", []string{"catalog", "list"}, exitOK, []string{"2 torrents in " + shelf, v1Hash + "        5 B  term1.iso"}, nil, nil},
		{"not bencode", []string{"catalog", "add", junk}, exitUsage, nil, []string{"not a valid .torrent file: it is not a bencoded dictionary"}, []string{otherHash + ".torrent", v1Hash + ".torrent"}},
		{"oversized", []string{"catalog", "add", big}, exitUsage, nil, []string{"larger than catalog.max_torrent_size"}, []string{otherHash + ".torrent", v1Hash + ".torrent"}},
		{"missing file", []string{"catalog", "add", filepath.Join(dir, "nope.torrent")}, exitUsage, nil, []string{"no such file"}, []string{otherHash + ".torrent", v1Hash + ".torrent"}},
		{"remove by name", []string{"catalog", "remove", "term1.iso"}, exitOK, []string{"taken off the shelf in " + shelf + ": term1.iso"}, nil, []string{otherHash + ".torrent"}},
		{"remove by hash", []string{"catalog", "remove", strings.ToUpper(otherHash)}, exitOK, nil, nil, []string{}},
		{"remove what is not there", []string{"catalog", "remove", "term1.iso"}, exitUsage, nil, []string{`no torrent named "term1.iso"`}, []string{}},
		{"no subcommand", []string{"catalog"}, exitUsage, nil, []string{"catalog needs add, list or remove"}, nil},
	}
	for _, s := range steps {
		status, stdout, stderr := runCmd(append(s.args, "--config", cfg)...)
		if status != s.wantStatus {
			t.Errorf("%s: status %d, want %d\nstdout: %s\nstderr: %s", s.name, status, s.wantStatus, stdout, stderr)
		}
		for _, w := range s.wantStdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", s.name, w, stdout)
			}
		}
		for _, w := range s.wantStderr {
			if !strings.Contains(stderr, w) {
				t.Errorf("%s: stderr lacks %q:\n%s", s.name, w, stderr)
			}
		}
		if s.wantFiles != nil {
			if got := shelfFiles(t, shelf); !slices.Equal(got, s.wantFiles) && !(len(got) == 0 && len(s.wantFiles) == 0) {
				t.Errorf("%s: shelf holds %v, want %v", s.name, got, s.wantFiles)
			}
		}
	}
}

// TestTorrentCreate: the torrent made of a real file or folder parses, has the
// info-hash metainfo's BuildFromFilePath gives for the same data, announces
// where it should, is private with --private, and with --add is on the shelf.
func TestTorrentCreate(t *testing.T) {
	cfg, shelf := shelfConfig(t, "http:\n  listen: [\"127.0.0.1:6969\"]\nudp:\n  listen: [\"127.0.0.1:6969\"]\n")
	cfg = strings.Replace(cfg, "max_torrent_size: 4096", "max_torrent_size: 65536", 1)
	src := t.TempDir()
	file := filepath.Join(src, "data.bin")
	if err := os.WriteFile(file, bytes.Repeat([]byte("swarmlight "), 300000), 0o644); err != nil { // 3.3 MB: many pieces
		t.Fatal(err)
	}
	folder := filepath.Join(src, "album")
	for _, f := range []string{"b/two.txt", "a.txt", "b/one.txt"} {
		p := filepath.Join(folder, f)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(strings.Repeat(f, 5000)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	tests := []struct {
		name     string
		path     string
		args     []string
		private  bool
		announce []string
		shelved  bool
	}{
		{"a file", file, nil, false, []string{"http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969/announce"}, false},
		{"a folder, private, added", folder, []string{"--private", "--add"}, true, []string{"http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969/announce"}, true},
		{"given trackers", file, []string{"--announce", "udp://box.lan:6969/announce", "--announce=http://a/announce,http://b/announce"}, false,
			[]string{"udp://box.lan:6969/announce", "http://a/announce", "http://b/announce"}, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := filepath.Join(out, strings.Repeat("x", i+1)+".torrent")
			status, stdout, stderr := runCmd(append([]string{"torrent", "create", tt.path, "-o", dst, "--config", cfg}, tt.args...)...)
			if status != exitOK {
				t.Fatalf("status %d\n%s\n%s", status, stdout, stderr)
			}
			if !strings.Contains(stderr, "hashing: 100%") {
				t.Errorf("no progress on stderr: %q", stderr)
			}
			mi, err := metainfo.LoadFromFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			info, err := mi.UnmarshalInfo()
			if err != nil {
				t.Fatal(err)
			}
			want := metainfo.Info{PieceLength: info.PieceLength}
			if err := want.BuildFromFilePath(tt.path); err != nil {
				t.Fatal(err)
			}
			if tt.private {
				want.Private = &tt.private
			}
			wb, _ := bencode.Marshal(want)
			if mi.HashInfoBytes() != metainfo.HashBytes(wb) {
				t.Errorf("info-hash %x, BuildFromFilePath gives %x", mi.HashInfoBytes(), metainfo.HashBytes(wb))
			}
			if got := info.Private != nil && *info.Private; got != tt.private {
				t.Errorf("private %v, want %v", got, tt.private)
			}
			if got := mi.UpvertedAnnounceList().DistinctValues(); !slices.Equal(got, tt.announce) {
				t.Errorf("announce %v, want %v", got, tt.announce)
			}
			h := mi.HashInfoBytes()
			_, err = os.Stat(filepath.Join(shelf, hex.EncodeToString(h[:])+".torrent"))
			if (err == nil) != tt.shelved {
				t.Errorf("on the shelf: %v, want %v", err == nil, tt.shelved)
			}
		})
	}

	// An existing file is never overwritten, and a missing path is an error.
	dst := filepath.Join(out, "x.torrent")
	before, _ := os.ReadFile(dst)
	if status, _, stderr := runCmd("torrent", "create", folder, "-o", dst, "--config", cfg); status != exitUsage || !strings.Contains(stderr, "already exists") {
		t.Errorf("over an existing file: %d %s", status, stderr)
	}
	if after, _ := os.ReadFile(dst); !bytes.Equal(before, after) {
		t.Errorf("the existing file changed")
	}
	if status, _, _ := runCmd("torrent", "create", filepath.Join(src, "nope"), "-o", filepath.Join(out, "n.torrent"), "--config", cfg); status != exitUsage {
		t.Errorf("a missing path: status %d, want %d", status, exitUsage)
	}
}
