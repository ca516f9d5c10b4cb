// Package atomicfile replaces files so that a reader, or a crash, sees the old
// file or the new one whole: the one way swarmlight writes the files it keeps
// (the access lists, the key file, the shelf's torrents).
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Opts say what the new file is like.
type Opts struct {
	Perm os.FileMode
	// UID and GID own the new file, each unless -1 (os.Chown's convention); the
	// zero Opts sets root, so callers that do not care pass -1.
	UID, GID int
	// StrictOwner makes failing to set the owner an error; otherwise the file is
	// written with whatever owner it gets.
	StrictOwner bool
}

// Write makes path hold data: a temporary file in the same directory is written,
// synced and renamed over path, and the directory is synced so that the rename
// lasts. On an error path is as it was.
func Write(path string, data []byte, o Opts) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("atomicfile: %w", err)
	}
	defer os.Remove(tmp.Name()) // gone after the rename; cleans up after a failure
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Chmod(o.Perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil && (o.UID >= 0 || o.GID >= 0) {
		if cerr := os.Chown(tmp.Name(), o.UID, o.GID); cerr != nil && o.StrictOwner {
			err = fmt.Errorf("setting the owner: %w", cerr)
		}
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		return fmt.Errorf("atomicfile: writing %s: %w", path, err)
	}
	SyncDir(dir)
	return nil
}

// SyncDir makes a rename or a removal in dir durable. It is best effort: a
// file system that cannot sync a directory has nothing more to offer.
func SyncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
}
