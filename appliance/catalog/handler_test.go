package catalog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anacrolix/torrent/metainfo"
)

var client = &http.Client{Timeout: 5 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// upload posts b in the field "torrent" (and key, when not "") to base+/catalog.
func upload(t *testing.T, base string, b []byte, key string, hdr map[string]string) (int, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	if key != "" {
		mw.WriteField("key", key)
	}
	fw, _ := mw.CreateFormFile("torrent", "x.torrent")
	fw.Write(b)
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, base+"/catalog", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(msg)
}

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func listed(t *testing.T, base string) []Entry {
	t.Helper()
	resp, b := get(t, base+"/catalog?format=json")
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("list content type %q", ct)
	}
	var l struct{ Torrents []Entry }
	if err := json.Unmarshal(b, &l); err != nil {
		t.Fatal(err)
	}
	return l.Torrents
}

// TestUploadListDownload: over a real socket, an upload from loopback is
// stored, listed, on the HTML list, and downloaded byte for byte as
// application/x-bittorrent with a safe file name.
func TestUploadListDownload(t *testing.T) {
	s := newShelf(t, Deps{}, Options{})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	b, h := makeTorrent(t, `my "image"/v1.iso`, 20000, false, "")
	if code, msg := upload(t, srv.URL, b, "", nil); code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, msg)
	}
	l := listed(t, srv.URL)
	if len(l) != 1 || l[0].Name != `my "image"/v1.iso` || l[0].Size != 20000 || l[0].ID != hex.EncodeToString(h[:]) {
		t.Fatalf("list %+v", l)
	}
	resp, page := get(t, srv.URL+"/catalog")
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(string(page), `my &#34;image&#34;/v1.iso`) || !strings.Contains(string(page), `name="torrent"`) {
		t.Errorf("HTML list: %s %s", resp.Header.Get("Content-Type"), page)
	}
	resp, got := get(t, srv.URL+l[0].Download)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, b) {
		t.Fatalf("download: %d, bytes equal %v", resp.StatusCode, bytes.Equal(got, b))
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-bittorrent" {
		t.Errorf("content type %q", ct)
	}
	if cd := resp.Header.Get("Content-Disposition"); cd != `attachment; filename="my _image__v1.iso.torrent"` {
		t.Errorf("content disposition %q", cd)
	}
	if resp, _ := get(t, srv.URL+"/catalog/"+strings.Repeat("0", 40)+".torrent"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown torrent: %d, want 404", resp.StatusCode)
	}
}

// TestBadUpload: each bad upload gets its status and a message saying what is
// wrong, and changes nothing on disk or on the list.
func TestBadUpload(t *testing.T) {
	good, _ := makeTorrent(t, "good.iso", 1000, false, "")
	big, _ := makeTorrent(t, "big.iso", 16<<10*500, false, "")
	noInfo := []byte("d8:announce17:http://x/announcee")
	tests := []struct {
		name      string
		uploadKey string
		b         []byte
		key       string
		hdr       map[string]string
		code      int
		says      string
	}{
		{"not bencode", "", []byte("<html>"), "", nil, http.StatusBadRequest, "not a bencoded dictionary"},
		{"missing info", "", noInfo, "", nil, http.StatusBadRequest, "no info dictionary"},
		{"oversized", "", big, "", nil, http.StatusRequestEntityTooLarge, "max_torrent_size"},
		{"wrong key", "s3cret", good, "guess", nil, http.StatusForbidden, "upload key"},
		{"no key", "s3cret", good, "", nil, http.StatusForbidden, "upload key"},
		{"forwarded by a proxy, no key", "", good, "", map[string]string{"X-Forwarded-For": "192.168.1.9"}, http.StatusForbidden, "own machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newShelf(t, Deps{}, Options{MaxSize: 8 << 10, UploadKey: tt.uploadKey})
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			dir := s.cur.Load().opts.Dir
			code, msg := upload(t, srv.URL, tt.b, tt.key, tt.hdr)
			if code != tt.code || !strings.Contains(msg, tt.says) {
				t.Errorf("got %d %q, want %d saying %q", code, msg, tt.code, tt.says)
			}
			if len(dirState(t, dir)) != 0 || len(listed(t, srv.URL)) != 0 {
				t.Errorf("changed: dir %v", dirState(t, dir))
			}
		})
	}
	// The right key is let in.
	s := newShelf(t, Deps{}, Options{UploadKey: "s3cret"})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	if code, msg := upload(t, srv.URL, good, "s3cret", nil); code != http.StatusCreated {
		t.Errorf("with the key: %d %s", code, msg)
	}
}

// TestUploadFromTheLAN: without an upload key only loopback may upload.
func TestUploadFromTheLAN(t *testing.T) {
	tests := []struct {
		remote, key string
		refused     bool
	}{
		{"127.0.0.1:4000", "", false},
		{"[::1]:4000", "", false},
		{"192.168.1.20:4000", "", true},
		{"[fd00::1]:4000", "", true},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodPost, "/catalog", nil)
		r.RemoteAddr = tt.remote
		if got := uploadRefused(r, "", tt.key) != ""; got != tt.refused {
			t.Errorf("%s: refused %v, want %v", tt.remote, got, tt.refused)
		}
	}
}

// TestPersonalisedDownload: in private mode a member's key puts their key URLs
// in the download (the info-hash unchanged); a wrong key gets nothing; no key
// gets the file as it is.
func TestPersonalisedDownload(t *testing.T) {
	const key = "0123456789abcdef0123456789abcdef"
	d := Deps{
		Private:      func() bool { return true },
		Member:       func(k string) bool { return k == key },
		AnnounceURLs: func() []string { return []string{"http://127.0.0.1:6969/announce", "udp://127.0.0.1:6969/announce"} },
	}
	s := newShelf(t, d, Options{})
	b, h := makeTorrent(t, "members.iso", 1000, true, "http://127.0.0.1:6969/announce")
	e, err := s.Add(b)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()

	resp, got := get(t, srv.URL+e.Download+"?key="+key)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("personalised: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	mi, err := metainfo.Load(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if mi.HashInfoBytes() != h {
		t.Errorf("the info-hash changed")
	}
	urls := mi.UpvertedAnnounceList().DistinctValues()
	for _, want := range []string{"http://127.0.0.1:6969/" + key + "/announce", "udp://127.0.0.1:6969/" + key + "/announce"} {
		if !slices.Contains(urls, want) {
			t.Errorf("announce URLs %v lack %s", urls, want)
		}
	}
	if slices.Contains(urls, "http://127.0.0.1:6969/announce") {
		t.Errorf("the key-less URL is still in %v", urls)
	}

	if resp, _ := get(t, srv.URL+e.Download+"?key=wrongkey"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a wrong key: %d, want 403", resp.StatusCode)
	}
	if _, plain := get(t, srv.URL+e.Download); !bytes.Equal(plain, b) {
		t.Errorf("no key: not the file as it is")
	}
	if _, page := get(t, srv.URL+"/catalog"); !strings.Contains(string(page), "?key=YOUR_KEY") {
		t.Errorf("the page does not say how to add the key")
	}
}

func TestFileName(t *testing.T) {
	tests := map[string]string{
		"ubuntu.iso":          "ubuntu.iso.torrent",
		"../../etc/passwd":    "_.._etc_passwd.torrent",
		"a\r\nb":              "a__b.torrent",
		"...":                 "torrent.torrent",
		"café \"quoted\";x=1": "café _quoted__x=1.torrent",
	}
	for in, want := range tests {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestShelfEscapes: a torrent's name, and the form's way back, are text on the
// shelf's page, never markup.
func TestShelfEscapes(t *testing.T) {
	const evil = `<script>alert(1)</script>"'&`
	const shown = `&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;`
	s := newShelf(t, Deps{}, Options{})
	b, _ := makeTorrent(t, evil, 1000, false, "")
	if _, err := s.Add(b); err != nil {
		t.Fatal(err)
	}
	frag := s.HTML(`/"><script>alert(2)</script>`)
	for _, want := range []string{
		`<td>` + shown + `</td>`,
		`<input type="hidden" name="back" value="/&#34;&gt;&lt;script&gt;alert(2)&lt;/script&gt;">`,
		`<a href="magnet:?xt=urn:btih:`,
		`&amp;dn=%3Cscript%3Ealert%281%29%3C%2Fscript%3E%22%27%26">magnet</a>`,
	} {
		if !strings.Contains(frag, want) {
			t.Errorf("shelf lacks %q:\n%s", want, frag)
		}
	}
	if strings.Contains(frag, "<script") || strings.Contains(frag, `"'&`) {
		t.Errorf("shelf holds unescaped markup:\n%s", frag)
	}
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	_, page := get(t, srv.URL+"/catalog")
	if !strings.Contains(string(page), `<td>`+shown+`</td>`) || strings.Contains(string(page), "<script") {
		t.Errorf("GET /catalog: name not escaped:\n%s", page)
	}
}
