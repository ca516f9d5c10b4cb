package access

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/swarmlight/swarmlight/appliance/internal/atomicfile"
)

// File modes of what the editing functions write. The key file is world-readable
// like the lists: it holds only SHA-256 digests of 128-bit random keys, from which
// no key can be recovered, and the service runs as a dynamic user (DynamicUser=yes)
// that no fixed group could name, so a tighter mode would lock the tracker out.
const (
	ListFileMode os.FileMode = 0o644
	KeyFileMode  os.FileMode = 0o644
)

// Errors of an edit, for the CLI to tell bad input from a broken file.
var (
	ErrNoLabel    = errors.New("no member has that label")
	ErrLabelTaken = errors.New("a member already has that label")
	// ErrNoDirectory: the file's directory is missing. It is not made: making one
	// silently would hide a mistyped path.
	ErrNoDirectory = errors.New("the directory does not exist")
)

// Entry is a hash to add to a list, with an optional note written after it as a
// comment (a torrent's name, say).
type Entry struct {
	Hash [20]byte
	Note string
}

// AddHashes adds to the list file at path each entry whose hash it does not hold
// yet, creating the file if need be, and returns the hashes it added. The file
// is rewritten safely (see editFile); comments and every other line stay as they
// were. A file with a bad line is left alone: the error names the line.
func AddHashes(path string, es []Entry) (added [][20]byte, err error) {
	err = editFile(path, ListFileMode, func(lines []string) ([]string, error) {
		have, err := listHashes(path, lines)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if have[e.Hash] {
				continue
			}
			have[e.Hash] = true
			line := hex.EncodeToString(e.Hash[:])
			if note := strings.Join(strings.Fields(e.Note), " "); note != "" {
				line += "  # " + note
			}
			lines = append(lines, line)
			added = append(added, e.Hash)
		}
		return lines, nil
	})
	return added, err
}

// RemoveHashes removes from the list file at path every line that names one of
// hs, and returns the hashes it found.
func RemoveHashes(path string, hs [][20]byte) (removed [][20]byte, err error) {
	gone := map[[20]byte]bool{}
	for _, h := range hs {
		gone[h] = true
	}
	err = editFile(path, ListFileMode, func(lines []string) ([]string, error) {
		if _, err := listHashes(path, lines); err != nil {
			return nil, err
		}
		found := map[[20]byte]bool{}
		out := lines[:0:0]
		for _, l := range lines {
			lhs, _ := appendHashes(nil, stripComment([]byte(l)))
			hit := false
			for _, h := range lhs {
				if gone[h] {
					hit, found[h] = true, true
				}
			}
			if !hit {
				out = append(out, l)
			}
		}
		for _, h := range hs {
			if found[h] && !slices.Contains(removed, h) {
				removed = append(removed, h)
			}
		}
		return out, nil
	})
	return removed, err
}

// ReadHashes returns the hashes of the list file at path, in file order; a
// missing file is an empty list.
func ReadHashes(path string) ([][20]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	var hs [][20]byte
	err = eachLine(bytes.NewReader(b), path, func(line []byte) error {
		hs, err = appendHashes(hs, line)
		return err
	})
	return hs, err
}

// listHashes checks every line of a list file and returns the set it names.
func listHashes(path string, lines []string) (map[[20]byte]bool, error) {
	have := map[[20]byte]bool{}
	for i, l := range lines {
		line := stripComment([]byte(l))
		if len(line) == 0 {
			continue
		}
		hs, err := appendHashes(nil, line)
		if err != nil {
			return nil, &LineError{Path: path, Line: i + 1, Err: err}
		}
		for _, h := range hs {
			have[h] = true
		}
	}
	return have, nil
}

// AddMember adds a member with the key whose digest is d to the key file at path,
// creating the file if need be. The label must be new.
func AddMember(path, label string, d [32]byte) error {
	if err := CheckLabel(label); err != nil {
		return err
	}
	return editFile(path, KeyFileMode, func(lines []string) ([]string, error) {
		ms, err := ReadMembers(strings.NewReader(strings.Join(lines, "\n")), path)
		if err != nil {
			return nil, err
		}
		for _, m := range ms {
			if m.Label == label {
				return nil, ErrLabelTaken
			}
		}
		return append(lines, Member{Label: label, Digest: d}.String()), nil
	})
}

// RevokeMember removes the member labelled label from the key file at path.
func RevokeMember(path, label string) error {
	return editFile(path, KeyFileMode, func(lines []string) ([]string, error) {
		if _, err := ReadMembers(strings.NewReader(strings.Join(lines, "\n")), path); err != nil {
			return nil, err
		}
		out := lines[:0:0]
		for _, l := range lines {
			if f := strings.Fields(string(stripComment([]byte(l)))); len(f) > 0 && f[0] == label {
				continue
			}
			out = append(out, l)
		}
		if len(out) == len(lines) {
			return nil, ErrNoLabel
		}
		return out, nil
	})
}

// ReadMembersFile returns the members of the key file at path; a missing file has
// none.
func ReadMembersFile(path string) ([]Member, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("access: %w", err)
	}
	defer f.Close()
	return ReadMembers(f, path)
}

// editFile rewrites the file at path as change makes its lines, so that a reader
// sees the old file or the new one, whole, and never half of it: the new text goes
// to a temporary file in the same directory, is synced, and is renamed over the
// old one. A new file gets mode perm and the directory's group; a file that exists
// keeps its owner and group, so the service can still read it. When change
// returns an error or the same lines, nothing is written.
func editFile(path string, perm os.FileMode, change func(lines []string) ([]string, error)) error {
	// Edit the file a symbolic link points to: renaming over the link would
	// replace it with a file of its own.
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	dir := filepath.Dir(path)
	dfi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("access: %s: %w: %s (create it first)", path, ErrNoDirectory, dir)
	}
	if err != nil {
		return fmt.Errorf("access: %w", err)
	}
	old, err := os.ReadFile(path)
	exists := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("access: %w", err)
	}
	var lines []string
	if text := strings.TrimSuffix(string(old), "\n"); text != "" {
		lines = strings.Split(text, "\n")
	}
	before := slices.Clone(lines)
	lines, err = change(lines)
	if err != nil {
		return err
	}
	if exists && slices.Equal(lines, before) {
		return nil
	}
	text := strings.Join(lines, "\n")
	if text != "" {
		text += "\n"
	}

	uid, gid := -1, -1
	if st, ok := dfi.Sys().(*syscall.Stat_t); ok {
		gid = int(st.Gid)
	}
	if exists {
		fi, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("access: %w", err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			uid, gid = int(st.Uid), int(st.Gid)
		}
	}

	err = atomicfile.Write(path, []byte(text), atomicfile.Opts{Perm: perm, UID: uid, GID: gid,
		// Renaming a file whose owner could not be kept could leave the service
		// unable to read it; a new one takes its directory's group if it can.
		StrictOwner: exists})
	if err != nil {
		return fmt.Errorf("access: %w", err)
	}
	return nil
}
