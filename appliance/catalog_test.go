package appliance_test

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/anacrolix/torrent/bencode"
	"github.com/anacrolix/torrent/metainfo"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/catalog"
	"github.com/swarmlight/swarmlight/appliance/config"
)

// testTorrent is a well-formed .torrent of pieces pieces named name (the piece
// hashes are made up: the shelf checks their number, not the data).
func testTorrent(t testing.TB, name string, pieces int) ([]byte, [20]byte) {
	t.Helper()
	info := metainfo.Info{Name: name, PieceLength: 16 << 10, Length: int64(pieces) * 16 << 10,
		Pieces: bytes.Repeat([]byte(name + "01234567890123456789")[:20], pieces)}
	mi := metainfo.MetaInfo{Announce: "http://127.0.0.1:6969/announce"}
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

// shelveIn puts b in dir as `swarmlight catalog add` does.
func shelveIn(t testing.TB, dir string, b []byte) {
	t.Helper()
	s := catalog.New(catalog.Deps{})
	if err := s.Apply(catalog.Options{Enabled: true, Dir: dir, MaxSize: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Add(b); err != nil {
		t.Fatal(err)
	}
}

// uploadTo posts b as the upload form does to h, over a real socket, from
// loopback; it returns the status.
func uploadTo(t testing.TB, h http.Handler, b []byte, key string) int {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if key != "" {
		mw.WriteField("key", key)
	}
	fw, _ := mw.CreateFormFile("torrent", "up.torrent")
	fw.Write(b)
	mw.Close()
	resp, err := noKeepAlive.Post(srv.URL+"/catalog", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestShelfOnTheTrackerPort: on the running tracker's HTTP port, in listed
// mode, a bad upload is refused and changes nothing; a good one is listed,
// downloads byte for byte as application/x-bittorrent, and makes its torrent
// announceable (refused before, accepted after); taken off the shelf, it is
// refused again.
func TestShelfOnTheTrackerPort(t *testing.T) {
	var shelf atomic.Pointer[catalog.Shelf]
	defer appliance.SetCatalogHook(func(s *catalog.Shelf) { shelf.Store(s) })()
	dir := t.TempDir()
	cfg := defaultConfig(t)
	cfg.HTTP.Listen, cfg.UDP.Listen = []string{"127.0.0.1:0"}, []string{"127.0.0.1:0"}
	cfg.UDP.Workers = 1
	cfg.Panel.Mode = "sim"
	var err error
	if cfg.Access.Mode, err = access.ParseMode("listed"); err != nil {
		t.Fatal(err)
	}
	cfg.Access.AllowFile = filepath.Join(dir, "allow.list")
	writeFile(t, cfg.Access.AllowFile, "")
	cfg.Catalog = config.Catalog{Enabled: true, Dir: filepath.Join(dir, "catalog"), MaxTorrentSize: 64 << 10}
	l := startLive(t, cfg)
	base := strings.TrimSuffix(l.urls[0], "/announce")
	b, h := testTorrent(t, "shelved.iso", 4)
	e := &keyEnv{t: t, l: l}

	if rr := e.ann(l.urls[0], string(h[:]), peerID(1)); rr.FailureReason != "torrent not tracked here" {
		t.Fatalf("before the upload: %q, want refused", rr.FailureReason)
	}
	if code := postTorrent(t, base, []byte("not a torrent"), ""); code != http.StatusBadRequest {
		t.Errorf("a bad upload: %d, want 400", code)
	}
	if ents, _ := os.ReadDir(cfg.Catalog.Dir); len(ents) != 0 {
		t.Errorf("a bad upload left %d files", len(ents))
	}
	if code := postTorrent(t, base, b, ""); code != http.StatusCreated {
		t.Fatalf("upload: %d, want 201", code)
	}
	if rr := e.ann(l.urls[0], string(h[:]), peerID(1)); rr.FailureReason != "" {
		t.Errorf("after the upload: refused %q", rr.FailureReason)
	}

	resp, err := noKeepAlive.Get(base + "/catalog?format=json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Torrents []catalog.Entry }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Torrents) != 1 || list.Torrents[0].Name != "shelved.iso" || list.Torrents[0].Size != 4*16<<10 {
		t.Fatalf("listed: %+v", list.Torrents)
	}
	resp, err = noKeepAlive.Get(base + list.Torrents[0].Download)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Equal(got, b) || resp.Header.Get("Content-Type") != "application/x-bittorrent" {
		t.Errorf("download: bytes equal %v, content type %q", bytes.Equal(got, b), resp.Header.Get("Content-Type"))
	}

	if _, err := shelf.Load().Remove("shelved.iso"); err != nil {
		t.Fatal(err)
	}
	if rr := e.ann(l.urls[0], string(h[:]), peerID(2)); rr.FailureReason != "torrent not tracked here" {
		t.Errorf("taken off the shelf: %q, want refused", rr.FailureReason)
	}
}

// postTorrent uploads b to the tracker at base as the page's form does.
func postTorrent(t testing.TB, base string, b []byte, key string) int {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if key != "" {
		mw.WriteField("key", key)
	}
	fw, _ := mw.CreateFormFile("torrent", "up.torrent")
	fw.Write(b)
	mw.Close()
	resp, err := noKeepAlive.Post(base+"/catalog", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// liveShelf is the running tracker's shelf, for the probe of catalog.upload_key.
var liveShelf atomic.Pointer[catalog.Shelf]

// shelfDir is an enabled shelf in a directory of its own under dir holding the
// torrent testTorrent(name, pieces).
func shelfDir(t testing.TB, dir, name string, pieces int) config.Catalog {
	t.Helper()
	c := config.Catalog{Enabled: true, Dir: filepath.Join(dir, "shelf-"+name), MaxTorrentSize: 64 << 10}
	b, _ := testTorrent(t, name, pieces)
	shelveIn(t, c.Dir, b)
	return c
}

// shelvedHash is the info-hash of testTorrent(name, pieces), as an announce
// carries it.
func shelvedHash(t testing.TB, name string, pieces int) string {
	_, h := testTorrent(t, name, pieces)
	return string(h[:])
}
