package access

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAddRemoveHashes(t *testing.T) {
	a, b, c := [20]byte{0xa}, [20]byte{0xb}, [20]byte{0xc}
	start := "# school torrents\n" + hexOf(a) + "  # term 1\n\n" + "magnet:?xt=urn:btih:" + hexOf(b) + "\n"
	tests := []struct {
		name      string
		start     string // "-": no file
		add       []Entry
		remove    [][20]byte
		wantDone  int // hashes added or removed
		want      string
		wantError string
	}{
		{name: "add to a new file", start: "-", add: []Entry{{Hash: a, Note: "image.iso"}}, wantDone: 1,
			want: hexOf(a) + "  # image.iso\n"},
		{name: "add keeps comments", start: start, add: []Entry{{Hash: c}}, wantDone: 1,
			want: start + hexOf(c) + "\n"},
		{name: "add of a listed hash changes nothing", start: start, add: []Entry{{Hash: a}, {Hash: b}},
			want: start},
		{name: "add twice in one go", start: "", add: []Entry{{Hash: c}, {Hash: c}}, wantDone: 1,
			want: hexOf(c) + "\n"},
		{name: "note cannot break the line", start: "", add: []Entry{{Hash: c, Note: "a\nb"}}, wantDone: 1,
			want: hexOf(c) + "  # a b\n"},
		{name: "remove", start: start, remove: [][20]byte{a}, wantDone: 1,
			want: "# school torrents\n\n" + "magnet:?xt=urn:btih:" + hexOf(b) + "\n"},
		{name: "remove a magnet line", start: start, remove: [][20]byte{b, c}, wantDone: 1,
			want: "# school torrents\n" + hexOf(a) + "  # term 1\n\n"},
		{name: "remove of an unlisted hash changes nothing", start: start, remove: [][20]byte{c},
			want: start},
		{name: "bad file is left alone", start: start + "oops\n", add: []Entry{{Hash: c}},
			want: start + "oops\n", wantError: "line 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "allow.list")
			if tt.start != "-" {
				write(t, path, tt.start)
			}
			var done [][20]byte
			var err error
			if tt.add != nil {
				done, err = AddHashes(path, tt.add)
			} else {
				done, err = RemoveHashes(path, tt.remove)
			}
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("error %v, want %q", err, tt.wantError)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(done) != tt.wantDone {
				t.Fatalf("%d done, want %d", len(done), tt.wantDone)
			}
			got, _ := os.ReadFile(path)
			if string(got) != tt.want {
				t.Fatalf("file:\n%s\nwant:\n%s", got, tt.want)
			}
			if fi, err := os.Stat(path); tt.start == "-" && (err != nil || fi.Mode().Perm() != ListFileMode) {
				t.Fatalf("new list: %v, mode %v, want %v", err, fi.Mode().Perm(), ListFileMode)
			}
			if tmps, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*")); len(tmps) != 0 {
				t.Fatalf("temporary files left: %v", tmps)
			}
		})
	}
}

func TestMembers(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passkeys")
	alice, bob := Generate(), Generate()
	steps := []struct {
		name    string
		do      func() error
		wantErr error
		want    []string
	}{
		{"add to a new file", func() error { return AddMember(path, "alice", Digest(alice)) }, nil, []string{"alice"}},
		{"add another", func() error { return AddMember(path, "bob", Digest(bob)) }, nil, []string{"alice", "bob"}},
		{"label taken", func() error { return AddMember(path, "alice", Digest(bob)) }, ErrLabelTaken, []string{"alice", "bob"}},
		{"bad label", func() error { return AddMember(path, "a b", Digest(bob)) }, nil, []string{"alice", "bob"}},
		{"revoke", func() error { return RevokeMember(path, "alice") }, nil, []string{"bob"}},
		{"revoke unknown", func() error { return RevokeMember(path, "alice") }, ErrNoLabel, []string{"bob"}},
	}
	for _, s := range steps {
		err := s.do()
		switch {
		case s.name == "bad label":
			if err == nil {
				t.Fatalf("%s: no error", s.name)
			}
		case !errors.Is(err, s.wantErr):
			t.Fatalf("%s: %v, want %v", s.name, err, s.wantErr)
		}
		ms, err := ReadMembersFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range ms {
			got = append(got, m.Label)
		}
		if strings.Join(got, " ") != strings.Join(s.want, " ") {
			t.Fatalf("%s: members %q, want %q", s.name, got, s.want)
		}
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != KeyFileMode {
		t.Fatalf("key file: %v, mode %v, want %v", err, fi.Mode().Perm(), KeyFileMode)
	}
	text, _ := os.ReadFile(path)
	if strings.Contains(string(text), alice) || strings.Contains(string(text), bob) {
		t.Fatal("the key file holds a key, not its hash")
	}
}

// TestEditThroughSymlink: a list kept elsewhere and linked into /etc stays linked.
func TestEditThroughSymlink(t *testing.T) {
	real := filepath.Join(t.TempDir(), "school.list")
	write(t, real, "# ours\n")
	link := filepath.Join(t.TempDir(), "allow.list")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	if _, err := AddHashes(link, []Entry{{Hash: [20]byte{1}}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if got, _ := os.ReadFile(real); string(got) != "# ours\n"+hexOf([20]byte{1})+"\n" {
		t.Fatalf("the linked file:\n%s", got)
	}
}

func TestEditMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "swarmlight")
	path := filepath.Join(dir, "passkeys")
	err := AddMember(path, "alice", Digest(Generate()))
	if !errors.Is(err, ErrNoDirectory) || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %v, want it to name the missing directory", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("the directory was made")
	}
}
