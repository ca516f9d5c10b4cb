package catalog

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"
)

// makeTorrent builds a real single-file torrent of size bytes named name, the
// way `swarmlight torrent create` does, and returns its bytes and v1 hash.
func makeTorrent(t testing.TB, name string, size int, private bool, announce string) ([]byte, metainfo.Hash) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "data")
	data := bytes.Repeat([]byte(name+"!"), size/(len(name)+1)+1)[:size]
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	info := metainfo.Info{PieceLength: 16 << 10}
	if err := info.BuildFromFilePath(path); err != nil {
		t.Fatal(err)
	}
	info.Name = name
	if private {
		info.Private = &private
	}
	mi := metainfo.MetaInfo{Announce: announce}
	var err error
	if mi.InfoBytes, err = bencode.Marshal(info); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := mi.Write(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), mi.HashInfoBytes()
}

func newShelf(t testing.TB, d Deps, o Options) *Shelf {
	t.Helper()
	if o.Dir == "" {
		o.Dir = filepath.Join(t.TempDir(), "catalog")
	}
	if o.MaxSize == 0 {
		o.MaxSize = 64 << 10
	}
	o.Enabled = true
	s := New(d)
	if err := s.Apply(o); err != nil {
		t.Fatal(err)
	}
	return s
}

// dirState is what the shelf's directory holds: names and contents.
func dirState(t testing.TB, dir string) map[string]string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, e.Name()))
		m[e.Name()] = string(b)
	}
	return m
}

func TestParse(t *testing.T) {
	good, h := makeTorrent(t, "image.iso", 40000, true, "http://127.0.0.1:6969/announce")
	noInfo, _ := bencode.Marshal(map[string]any{"announce": "http://x/announce"})
	noName, _ := bencode.Marshal(map[string]any{"info": map[string]any{"piece length": 16384, "pieces": string(make([]byte, 20)), "length": 10}})
	badPieces, _ := bencode.Marshal(map[string]any{"info": map[string]any{"name": "a", "piece length": 16384, "pieces": string(make([]byte, 40)), "length": 10}})
	tests := []struct {
		name string
		b    []byte
		max  int
		want error
	}{
		{"valid", good, 1 << 20, nil},
		{"not bencode", []byte("<html>hello</html>"), 1 << 20, ErrInvalid},
		{"trailing bytes", append(slices.Clone(good), "xx"...), 1 << 20, ErrInvalid},
		{"no info", noInfo, 1 << 20, ErrInvalid},
		{"no name", noName, 1 << 20, ErrInvalid},
		{"pieces do not match the size", badPieces, 1 << 20, ErrInvalid},
		{"oversized", good, len(good) - 1, ErrTooLarge},
		{"empty", nil, 1 << 20, ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := Parse(tt.b, tt.max)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Parse: %v, want %v", err, tt.want)
			}
			if err != nil {
				return
			}
			if e.ID != hex.EncodeToString(h[:]) || e.Name != "image.iso" || e.Size != 40000 || !e.Private {
				t.Errorf("entry %+v", e)
			}
			if e.Download != "/catalog/"+e.ID+".torrent" {
				t.Errorf("download path %q", e.Download)
			}
			m, err := metainfo.ParseMagnetV2Uri(e.Magnet)
			if err != nil || m.InfoHash.Value != h || m.DisplayName != "image.iso" || !slices.Contains(m.Trackers, "http://127.0.0.1:6969/announce") {
				t.Errorf("magnet %q: %+v, %v", e.Magnet, m, err)
			}
		})
	}
}

// TestShelf: what is added is stored under its hash, listed by name, read back
// byte for byte, seen by a shelf opened later on the same directory, published,
// and removed by name or by hash.
func TestShelf(t *testing.T) {
	var published [][20]byte
	d := Deps{Published: func(hs [][20]byte) { published = hs }}
	s := newShelf(t, d, Options{})
	dir := s.cur.Load().opts.Dir
	zb, zh := makeTorrent(t, "zebra.iso", 3000, false, "")
	ab, ah := makeTorrent(t, "Apple.iso", 5000, false, "")
	for _, b := range [][]byte{zb, ab} {
		if _, err := s.Add(b); err != nil {
			t.Fatal(err)
		}
	}
	if got := names(s.List()); !slices.Equal(got, []string{"Apple.iso", "zebra.iso"}) {
		t.Errorf("List = %v, want sorted by name", got)
	}
	if !slices.Contains(published, [20]byte(zh)) || !slices.Contains(published, [20]byte(ah)) {
		t.Errorf("published %x, want both hashes", published)
	}
	if _, err := os.Stat(filepath.Join(dir, hex.EncodeToString(zh[:])+".torrent")); err != nil {
		t.Errorf("not stored under its hash: %v", err)
	}
	_, got, err := s.Get(hex.EncodeToString(zh[:]))
	if err != nil || !bytes.Equal(got, zb) {
		t.Errorf("Get: %v, bytes equal %v", err, bytes.Equal(got, zb))
	}

	again := New(Deps{})
	if err := again.Apply(s.cur.Load().opts); err != nil {
		t.Fatal(err)
	}
	if got := names(again.List()); !slices.Equal(got, []string{"Apple.iso", "zebra.iso"}) {
		t.Errorf("a shelf opened later lists %v", got)
	}

	if _, err := s.Remove("zebra.iso"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(hex.EncodeToString(ah[:])); err != nil {
		t.Fatal(err)
	}
	if len(s.List()) != 0 || len(published) != 0 || len(dirState(t, dir)) != 0 {
		t.Errorf("after removing both: list %v, published %x, dir %v", s.List(), published, dirState(t, dir))
	}
	if _, err := s.Remove("zebra.iso"); !errors.Is(err, ErrNotFound) {
		t.Errorf("removing again: %v, want ErrNotFound", err)
	}
}

// TestBadAddChangesNothing: a bad or oversized file leaves the directory, the
// list and what is published as they were.
func TestBadAddChangesNothing(t *testing.T) {
	calls := 0
	s := newShelf(t, Deps{Published: func([][20]byte) { calls++ }}, Options{MaxSize: 8 << 10})
	dir := s.cur.Load().opts.Dir
	good, _ := makeTorrent(t, "ok.iso", 1000, false, "")
	if _, err := s.Add(good); err != nil {
		t.Fatal(err)
	}
	big, _ := makeTorrent(t, "big.iso", 16<<10*500, false, "") // 500 pieces: 10 kB of hashes
	before, list, callsBefore := dirState(t, dir), s.List(), calls
	for name, b := range map[string][]byte{"not bencode": []byte("hello"), "oversized": big, "truncated": good[:len(good)/2]} {
		if _, err := s.Add(b); err == nil {
			t.Errorf("%s: added", name)
		}
	}
	if after := dirState(t, dir); len(after) != len(before) {
		t.Errorf("directory changed: %v, was %v", after, before)
	}
	if !slices.Equal(names(s.List()), names(list)) || calls != callsBefore {
		t.Errorf("list %v, was %v; published %d times more", names(s.List()), names(list), calls-callsBefore)
	}
}

// TestOff: a shelf that is off lists nothing, takes nothing and publishes
// nothing.
func TestOff(t *testing.T) {
	var published [][20]byte = [][20]byte{{1}}
	s := newShelf(t, Deps{Published: func(hs [][20]byte) { published = hs }}, Options{})
	b, _ := makeTorrent(t, "a.iso", 100, false, "")
	if _, err := s.Add(b); err != nil {
		t.Fatal(err)
	}
	o := s.cur.Load().opts
	o.Enabled = false
	if err := s.Apply(o); err != nil {
		t.Fatal(err)
	}
	if s.List() != nil || len(published) != 0 {
		t.Errorf("off: list %v, published %x", s.List(), published)
	}
	if _, err := s.Add(b); !errors.Is(err, ErrOff) {
		t.Errorf("Add while off: %v, want ErrOff", err)
	}
}

func names(es []Entry) []string {
	var n []string
	for _, e := range es {
		n = append(n, e.Name)
	}
	return n
}

// TestHybrid: a hybrid (v1 and v2) torrent is named by its v1 hash and
// publishes both hashes a tracker sees for it; a v2-only one is named by its
// truncated v2 hash.
func TestHybrid(t *testing.T) {
	tree := map[string]any{"x.iso": map[string]any{"": map[string]any{"length": 5, "pieces root": string(make([]byte, 32))}}}
	hybrid, _ := bencode.Marshal(map[string]any{"name": "x.iso", "length": 5, "piece length": 16384, "pieces": string(make([]byte, 20)),
		"meta version": 2, "file tree": tree})
	v2only, _ := bencode.Marshal(map[string]any{"name": "x.iso", "piece length": 16384, "meta version": 2, "file tree": tree})
	for name, info := range map[string][]byte{"hybrid": hybrid, "v2 only": v2only} {
		t.Run(name, func(t *testing.T) {
			b, _ := bencode.Marshal(map[string]any{"info": bencode.Bytes(info)})
			e, err := Parse(b, 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			v1 := sha1.Sum(info)
			v2 := sha256.Sum256(info)
			want := [][20]byte{[20]byte(v2[:20])}
			if name == "hybrid" {
				want = [][20]byte{v1, [20]byte(v2[:20])}
			}
			if !slices.Equal(e.hashes, want) || e.ID != hex.EncodeToString(want[0][:]) || e.Size != 5 {
				t.Errorf("hashes %x, ID %s, size %d; want %x", e.hashes, e.ID, e.Size, want)
			}
		})
	}
}
