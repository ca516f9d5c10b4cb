package atomicfile

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list")
	for _, tc := range []struct {
		data string
		perm os.FileMode
	}{
		{"first\n", 0o644},
		{"second, longer than the first\n", 0o600},
		{"", 0o644},
	} {
		if err := Write(path, []byte(tc.data), Opts{Perm: tc.perm, UID: -1, GID: -1}); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		fi, serr := os.Stat(path)
		if err != nil || serr != nil || string(got) != tc.data || fi.Mode().Perm() != tc.perm {
			t.Errorf("after writing %q %v: read %q %v, mode %v %v", tc.data, tc.perm, got, err, fi.Mode().Perm(), serr)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// A write that cannot happen leaves the file as it was and no temporary file.
func TestWriteFailsCleanly(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "list")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should go: the rename fails.
	if err := Write(filepath.Join(dir, "sub"), nil, Opts{Perm: 0o644, UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sub", "x"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "sub"), []byte("new\n"), Opts{Perm: 0o644, UID: -1, GID: -1}); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("the other file changed: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
	if err := Write(filepath.Join(dir, "missing", "list"), []byte("x"), Opts{Perm: 0o644, UID: -1, GID: -1}); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
