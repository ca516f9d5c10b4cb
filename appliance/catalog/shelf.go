// Package catalog is the shelf of torrents: .torrent files the operator chose to
// publish, kept in one directory (catalog.dir), listed on the status page by
// name and size with a magnet link and a download, and uploaded from the page or
// with `swarmlight catalog add`. It is the only thing swarmlight writes to disk,
// and it holds torrent metadata only, never anything about peers.
package catalog

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
	"sync"
	"sync/atomic"

	"github.com/anacrolix/torrent/metainfo"
	infohash_v2 "github.com/anacrolix/torrent/types/infohash-v2"

	"github.com/swarmlight/swarmlight/appliance/internal/atomicfile"
)

// FileMode is a shelved file's mode: the service's dynamic user writes them and
// an operator's `swarmlight catalog list` reads them.
const FileMode os.FileMode = 0o644

// Errors of Add and Remove, for the HTTP handler's status and the CLI's.
var (
	ErrTooLarge = errors.New("the .torrent file is larger than catalog.max_torrent_size")
	ErrInvalid  = errors.New("not a valid .torrent file")
	ErrNotFound = errors.New("no torrent on the shelf by that name or hash")
	ErrOff      = errors.New("the shelf is off (catalog.enabled is false)")
	// ErrLeftOff: some files in the directory were left off the shelf; the
	// rest are on it.
	ErrLeftOff = errors.New("files left off the shelf")
)

// Options are the catalog part of the configuration.
type Options struct {
	Enabled   bool
	Dir       string
	UploadKey string // "" lets only a loopback client upload
	MaxSize   int    // bytes a .torrent file may have
}

// Entry is one torrent on the shelf: what the page lists.
type Entry struct {
	ID       string `json:"id"`       // the file's name less .torrent: the v1 info-hash in hex (v2-only: the truncated v2 one)
	Name     string `json:"name"`     // the torrent's name
	Size     int64  `json:"size"`     // total bytes of its files
	Magnet   string `json:"magnet"`   // magnet link, with its trackers
	Download string `json:"download"` // path of the .torrent on this server
	Private  bool   `json:"private"`  // BEP 27: meets only through its trackers

	// hashes are what trackers see announced for it: the v1 info-hash, and the
	// v2 one truncated to 20 bytes (BEP 52), each it has.
	hashes [][20]byte
}

// Shelf is the shelf over one directory. Reading (List, Get, Handler) is safe
// alongside writing (Apply, Add, Remove): readers see one immutable snapshot,
// which writers replace whole.
type Shelf struct {
	deps Deps
	mu   sync.Mutex // serialises writers
	cur  atomic.Pointer[state]
	// uploads lets one upload be read at a time, so that uploads at
	// catalog.max_torrent_size each cannot together fill a small board's memory.
	uploads chan struct{}
}

type state struct {
	opts    Options
	entries []Entry // sorted by name, then ID
}

// New returns a shelf that is off until Apply turns it on.
func New(d Deps) *Shelf {
	s := &Shelf{deps: d, uploads: make(chan struct{}, 1)}
	s.cur.Store(&state{})
	return s
}

// Apply makes o the shelf's configuration and reads its directory again,
// making it first if need be. Files that are not valid torrents are left out
// and counted in the error; the rest are listed all the same.
func (s *Shelf) Apply(o Options) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !o.Enabled {
		s.set(&state{opts: o})
		return nil
	}
	es, err := scan(o)
	s.set(&state{opts: o, entries: es})
	return err
}

// Reload reads the directory again.
func (s *Shelf) Reload() error { return s.Apply(s.cur.Load().opts) }

// set installs st and tells the access control what is published.
func (s *Shelf) set(st *state) {
	s.cur.Store(st)
	if s.deps.Published != nil {
		var hs [][20]byte
		for _, e := range st.entries {
			hs = append(hs, e.hashes...)
		}
		s.deps.Published(hs)
	}
}

// Enabled reports whether the shelf is on.
func (s *Shelf) Enabled() bool { return s.cur.Load().opts.Enabled }

// List returns the shelf's torrents sorted by name; nil when it is off.
func (s *Shelf) List() []Entry { return slices.Clone(s.cur.Load().entries) }

// Get returns the entry with id and the .torrent file's bytes.
func (s *Shelf) Get(id string) (Entry, []byte, error) {
	st := s.cur.Load()
	if !st.opts.Enabled {
		return Entry{}, nil, ErrOff
	}
	i := slices.IndexFunc(st.entries, func(e Entry) bool { return e.ID == strings.ToLower(id) })
	if i < 0 {
		return Entry{}, nil, ErrNotFound
	}
	b, err := os.ReadFile(filepath.Join(st.opts.Dir, st.entries[i].ID+".torrent"))
	if err != nil {
		return Entry{}, nil, fmt.Errorf("catalog: reading a shelved torrent: %w", err)
	}
	return st.entries[i], b, nil
}

// Add validates b as a .torrent file and puts it on the shelf, replacing the
// same torrent if it is there already. A bad or oversized file is an error
// (ErrInvalid, ErrTooLarge) and changes nothing.
func (s *Shelf) Add(b []byte) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cur.Load()
	if !st.opts.Enabled {
		return Entry{}, ErrOff
	}
	e, err := Parse(b, st.opts.MaxSize)
	if err != nil {
		return Entry{}, err
	}
	if err := writeAtomic(st.opts.Dir, e.ID+".torrent", b); err != nil {
		return Entry{}, err
	}
	es := slices.DeleteFunc(slices.Clone(st.entries), func(x Entry) bool { return x.ID == e.ID })
	es = append(es, e)
	sortEntries(es)
	s.set(&state{opts: st.opts, entries: es})
	return e, nil
}

// Remove takes off the shelf the torrent whose ID (v1 info-hash in hex) or
// name is what; a name that more than one torrent has must be given by hash.
func (s *Shelf) Remove(what string) (Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.cur.Load()
	if !st.opts.Enabled {
		return Entry{}, ErrOff
	}
	var hits []int
	for i, e := range st.entries {
		if e.ID == strings.ToLower(what) || e.Name == what {
			hits = append(hits, i)
		}
	}
	switch {
	case len(hits) == 0:
		return Entry{}, ErrNotFound
	case len(hits) > 1:
		return Entry{}, fmt.Errorf("catalog: %d torrents are named %q: give the hash (swarmlight catalog list shows it)", len(hits), what)
	}
	e := st.entries[hits[0]]
	if err := os.Remove(filepath.Join(st.opts.Dir, e.ID+".torrent")); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return Entry{}, fmt.Errorf("catalog: removing: %w", err)
	}
	atomicfile.SyncDir(st.opts.Dir)
	s.set(&state{opts: st.opts, entries: slices.Delete(slices.Clone(st.entries), hits[0], hits[0]+1)})
	return e, nil
}

// Parse validates b as a .torrent file of at most max bytes and returns its
// entry. Its errors say what is wrong in plain words and wrap ErrInvalid or
// ErrTooLarge; they never quote the file.
func Parse(b []byte, max int) (Entry, error) {
	if len(b) > max {
		return Entry{}, fmt.Errorf("catalog: %w (%d bytes, at most %d)", ErrTooLarge, len(b), max)
	}
	bad := func(why string) (Entry, error) { return Entry{}, fmt.Errorf("catalog: %w: %s", ErrInvalid, why) }
	mi, err := metainfo.Load(bytes.NewReader(b))
	if err != nil {
		return bad("it is not a bencoded dictionary")
	}
	if len(mi.InfoBytes) == 0 {
		return bad("it has no info dictionary")
	}
	info, err := mi.UnmarshalInfo()
	if err != nil {
		return bad("its info dictionary cannot be read")
	}
	if info.BestName() == "" {
		return bad("it has no name")
	}
	if info.PieceLength <= 0 {
		return bad("its piece length is missing")
	}
	e := Entry{Name: info.BestName(), Private: info.Private != nil && *info.Private}
	v1 := len(info.Pieces) > 0 || len(info.Files) > 0 || info.Length > 0
	if v1 {
		var total int64
		for f := range info.UpvertedV1Files() {
			if f.Length < 0 {
				return bad("a file has a negative length")
			}
			total += f.Length
		}
		if len(info.Pieces)%20 != 0 || int64(len(info.Pieces)/20) != (total+info.PieceLength-1)/info.PieceLength {
			return bad("its piece hashes do not match its size")
		}
		e.Size = total
		e.hashes = append(e.hashes, mi.HashInfoBytes())
	}
	if info.HasV2() {
		if err := info.FileTree.Validate(); err != nil {
			return bad("its v2 file tree is not valid")
		}
		if !v1 {
			for f := range info.UpvertedFilesIter() {
				e.Size += f.Length
			}
		}
		v2 := infohash_v2.HashBytes(mi.InfoBytes)
		e.hashes = append(e.hashes, *v2.ToShort())
	}
	if len(e.hashes) == 0 {
		return bad("it is neither a v1 nor a v2 torrent")
	}
	e.ID = hex.EncodeToString(e.hashes[0][:])
	e.Download = "/catalog/" + e.ID + ".torrent"
	if m, err := mi.MagnetV2(); err == nil {
		e.Magnet = m.String()
	}
	return e, nil
}

// scan reads every .torrent file in o.Dir. A file that is not a valid torrent,
// or whose name is not its hash, is left out, and counted in the error; names
// are not given, since a file's name is an info-hash.
func scan(o Options) ([]Entry, error) {
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("catalog: making the shelf's directory: %w", err)
	}
	ents, err := os.ReadDir(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("catalog: reading the shelf's directory: %w", err)
	}
	var es []Entry
	bad := 0
	for _, d := range ents {
		name := d.Name()
		if !d.Type().IsRegular() || strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".torrent") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(o.Dir, name))
		if err != nil {
			bad++
			continue
		}
		e, err := Parse(b, o.MaxSize)
		if err != nil || e.ID+".torrent" != name {
			bad++
			continue
		}
		es = append(es, e)
	}
	sortEntries(es)
	if bad > 0 {
		return es, fmt.Errorf("catalog: %w: %d in %s are not valid torrents named by their hash, or are over catalog.max_torrent_size", ErrLeftOff, bad, o.Dir)
	}
	return es, nil
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int {
		if c := strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// writeAtomic writes b as dir/name so that a reader sees the old file or the new
// one, whole.
func writeAtomic(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("catalog: making the shelf's directory: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name), b, atomicfile.Opts{Perm: FileMode, UID: -1, GID: -1}); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	return nil
}

// Ready makes dir if need be and checks that it can be read and written to: what
// a new catalog.dir must allow before a reload takes it.
func Ready(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	if _, err := os.ReadDir(dir); err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	f, err := os.CreateTemp(dir, ".ready.*.tmp")
	if err != nil {
		return fmt.Errorf("catalog: %w", err)
	}
	f.Close()
	return os.Remove(f.Name())
}
