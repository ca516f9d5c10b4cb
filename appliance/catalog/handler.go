package catalog

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/anacrolix/torrent/bencode"

	"github.com/swarmlight/swarmlight/appliance/human"
	"github.com/swarmlight/swarmlight/appliance/internal/markup"
)

// Deps are what the shelf asks of the rest of the tracker. Any may be nil.
type Deps struct {
	// Published is told the hashes on the shelf each time they change, so that
	// listed mode tracks them (access.Control.SetPublished).
	Published func(hashes [][20]byte)
	// Private reports whether access.mode needs a passkey, and Member whether
	// key is a member's (the same check an announce gets).
	Private func() bool
	Member  func(key string) bool
	// AnnounceURLs are this box's announce URLs, as the tracker prints them: a
	// member's download announces to these, with the key.
	AnnounceURLs func() []string
}

func (s *Shelf) private() bool { return s.deps.Private != nil && s.deps.Private() }

// maxKeyField bounds the upload form's key field.
const maxKeyField = 256

// Handler serves the shelf under /catalog:
//
//	GET  /catalog                  the list, HTML (or JSON with ?format=json)
//	GET  /catalog/ID.torrent       a .torrent file; ?key=KEY personalises it in private mode
//	POST /catalog                  an upload: multipart field "torrent", and "key"
//	                               when catalog.upload_key is set
//
// It is mounted behind the allowed-networks check of the tracker's HTTP front.
func (s *Shelf) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Shelf) serve(w http.ResponseWriter, r *http.Request) {
	if !s.Enabled() {
		plain(w, http.StatusNotFound, "the shelf of torrents is off (catalog.enabled)")
		return
	}
	switch {
	case r.URL.Path == "/catalog" || r.URL.Path == "/catalog/":
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			s.serveList(w, r)
		case http.MethodPost:
			s.serveUpload(w, r)
		default:
			w.Header().Set("Allow", "GET, HEAD, POST")
			plain(w, http.StatusMethodNotAllowed, "method not allowed")
		}
	case strings.HasPrefix(r.URL.Path, "/catalog/") && strings.HasSuffix(r.URL.Path, ".torrent"):
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			plain(w, http.StatusMethodNotAllowed, "method not allowed")
			return
		}
		s.serveTorrent(w, r, strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/catalog/"), ".torrent"))
	default:
		plain(w, http.StatusNotFound, "not found")
	}
}

func (s *Shelf) serveList(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-cache")
	if r.URL.Query().Get("format") == "json" {
		w.Header().Set("Content-Type", "application/json")
		es := s.List()
		if es == nil {
			es = []Entry{}
		}
		json.NewEncoder(w).Encode(struct {
			Torrents []Entry `json:"torrents"`
		}{es})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"+
		"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"+
		"<title>Shelf of torrents</title></head><body>\n%s</body></html>\n", s.HTML("/catalog"))
}

func (s *Shelf) serveTorrent(w http.ResponseWriter, r *http.Request, id string) {
	e, b, err := s.Get(id)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrOff) {
		plain(w, http.StatusNotFound, "no such torrent on the shelf")
		return
	}
	if err != nil {
		plain(w, http.StatusInternalServerError, "the torrent could not be read")
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	// Outside private mode there are no keys, and a download is the file as is.
	if key := r.URL.Query().Get("key"); key != "" && s.private() {
		if s.deps.Member == nil || !s.deps.Member(key) {
			plain(w, http.StatusForbidden, "that is not a member's key")
			return
		}
		b, err = personalise(b, s.announceURLs(r), key)
		if err != nil {
			plain(w, http.StatusInternalServerError, "the torrent could not be personalised")
			return
		}
		// It carries the member's key: no cache keeps it.
		w.Header().Set("Cache-Control", "no-store")
	}
	w.Header().Set("Content-Type", "application/x-bittorrent")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": fileName(e.Name)}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(b))
}

// announceURLs are the box's announce URLs, with the one for the name the
// member reached it by (swarmlight.local:6969) first when that is not an
// address among them.
func (s *Shelf) announceURLs(r *http.Request) []string {
	var urls []string
	if s.deps.AnnounceURLs != nil {
		urls = s.deps.AnnounceURLs()
	}
	if h := r.Host; validHost(h) {
		u := "http://" + h + "/announce"
		if !containsFold(urls, u) {
			urls = append([]string{u}, urls...)
		}
	}
	return urls
}

func (s *Shelf) serveUpload(w http.ResponseWriter, r *http.Request) {
	st := s.cur.Load()
	// Without an upload key the address alone decides: refused before a byte
	// of the body is read.
	if st.opts.UploadKey == "" {
		if why := uploadRefused(r, "", ""); why != "" {
			plain(w, http.StatusForbidden, why)
			return
		}
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	case <-r.Context().Done():
		return
	}
	// Room for the form's boundaries and other fields around the file.
	r.Body = http.MaxBytesReader(w, r.Body, int64(st.opts.MaxSize)+64<<10)
	mr, err := r.MultipartReader()
	if err != nil {
		plain(w, http.StatusBadRequest, `send the upload as multipart/form-data with the .torrent file in the field "torrent"`)
		return
	}
	var (
		file     []byte
		haveFile bool
		key      string
		back     = "/"
	)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			uploadReadError(w, err, st.opts.MaxSize)
			return
		}
		switch p.FormName() {
		case "torrent":
			file, err = io.ReadAll(io.LimitReader(p, int64(st.opts.MaxSize)+1))
			haveFile = true
		case "key":
			var b []byte
			b, err = io.ReadAll(io.LimitReader(p, maxKeyField))
			key = strings.TrimSpace(string(b))
		case "back":
			var b []byte
			b, err = io.ReadAll(io.LimitReader(p, maxKeyField))
			if v := string(b); strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "//") && !strings.ContainsAny(v, "\\\r\n") {
				back = v
			}
		}
		p.Close()
		if err != nil {
			uploadReadError(w, err, st.opts.MaxSize)
			return
		}
	}
	if why := uploadRefused(r, st.opts.UploadKey, key); why != "" {
		plain(w, http.StatusForbidden, why)
		return
	}
	if !haveFile {
		plain(w, http.StatusBadRequest, `no file: put the .torrent file in the form field "torrent"`)
		return
	}
	e, err := s.Add(file)
	switch {
	case errors.Is(err, ErrTooLarge):
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the file is larger than the shelf takes (catalog.max_torrent_size, %d bytes)", st.opts.MaxSize))
		return
	case errors.Is(err, ErrInvalid):
		plain(w, http.StatusBadRequest, strings.TrimPrefix(err.Error(), "catalog: "))
		return
	case err != nil:
		plain(w, http.StatusInternalServerError, "the torrent could not be stored")
		return
	}
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		http.Redirect(w, r, back, http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", e.Download)
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(e)
}

func uploadReadError(w http.ResponseWriter, err error, max int) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		plain(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the upload is larger than the shelf takes (catalog.max_torrent_size, %d bytes)", max))
		return
	}
	plain(w, http.StatusBadRequest, "the upload could not be read as multipart/form-data")
}

// uploadRefused says why r may not upload, or "". With catalog.upload_key set,
// the form must carry it; without, only this machine may upload, by a direct
// connection: a request a proxy forwarded is not the operator's, even when the
// proxy runs here.
func uploadRefused(r *http.Request, want, got string) string {
	if want != "" {
		if subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return "uploading needs the shelf's upload key (catalog.upload_key)"
		}
		return ""
	}
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	forwarded := r.Header.Get("Forwarded") != "" || r.Header.Get("X-Forwarded-For") != "" || r.Header.Get("X-Real-Ip") != ""
	if err != nil || !ap.Addr().Unmap().IsLoopback() || forwarded {
		return "uploading is open only on the tracker's own machine (set catalog.upload_key to allow it from the LAN)"
	}
	return ""
}

// personalise returns the .torrent b announcing to urls with key in their path
// (/KEY/announce) first, then to the trackers it named that are not this box.
// The info dictionary, and so the info-hash, is kept byte for byte.
func personalise(b []byte, urls []string, key string) ([]byte, error) {
	var d map[string]bencode.Bytes
	if err := bencode.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("catalog: personalising: %w", err)
	}
	var mine []string
	ours := map[string]bool{}
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err != nil || !strings.HasSuffix(pu.Path, "/announce") {
			continue
		}
		ours[strings.ToLower(pu.Scheme+"://"+pu.Host)] = true
		pu.Path = "/" + key + "/announce"
		mine = append(mine, pu.String())
	}
	tiers := [][]string{mine}
	var old struct {
		Announce     string     `bencode:"announce"`
		AnnounceList [][]string `bencode:"announce-list"`
	}
	bencode.Unmarshal(b, &old)
	if len(old.AnnounceList) == 0 && old.Announce != "" {
		old.AnnounceList = [][]string{{old.Announce}}
	}
	for _, t := range old.AnnounceList {
		var keep []string
		for _, u := range t {
			pu, err := url.Parse(u)
			if err == nil && !ours[strings.ToLower(pu.Scheme+"://"+pu.Host)] {
				keep = append(keep, u)
			}
		}
		if len(keep) > 0 {
			tiers = append(tiers, keep)
		}
	}
	if len(mine) == 0 {
		return nil, errors.New("catalog: personalising: no announce URL of this box")
	}
	var err error
	if d["announce"], err = bencode.Marshal(mine[0]); err != nil {
		return nil, err
	}
	if d["announce-list"], err = bencode.Marshal(tiers); err != nil {
		return nil, err
	}
	return bencode.Marshal(d)
}

// fileName is a torrent's name as a safe download file name: no path, no
// control or quoting characters, and .torrent at the end.
func fileName(name string) string {
	f := strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || strings.ContainsRune(`/\"'<>:|?*;%`, r) {
			return '_'
		}
		return r
	}, name)
	f = strings.Trim(f, ". ")
	if len(f) > 120 {
		f = f[:120]
	}
	if f == "" {
		f = "torrent"
	}
	return f + ".torrent"
}

// validHost accepts a Host header that is a plain host name or address with an
// optional port, nothing that could change a URL's meaning.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	host := h
	if hh, _, err := net.SplitHostPort(h); err == nil {
		host = hh
	}
	if host == "" {
		return false
	}
	for _, c := range h {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return false
		}
	}
	return true
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

func plain(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// HTML is the shelf as a fragment of the status page: the list, how a member
// adds their key in private mode, and the upload form, whose "back" field
// returns the browser to back after an upload. It is empty when the shelf is
// off. It is written by hand, every name and address escaped (package markup
// says why not html/template).
func (s *Shelf) HTML(back string) string {
	st := s.cur.Load()
	if !st.opts.Enabled {
		return ""
	}
	var b markup.Builder
	b.Raw(`<section id="catalog" aria-labelledby="catalog-h">
<h2 id="catalog-h">Shelf of torrents</h2>`)
	if len(st.entries) > 0 {
		b.Raw(`
<table class="catalog">
<thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Get it</th></tr></thead>
<tbody>`)
		for _, e := range st.entries {
			b.Raw(`
<tr data-catalog-id="`)
			b.Text(e.ID)
			b.Raw(`"><td>`)
			b.Text(e.Name)
			if e.Private {
				b.Raw(` <small>(private)</small>`)
			}
			b.Raw(`</td><td data-value="`)
			b.Int(e.Size)
			b.Raw(`">`)
			b.Text(human.Bytes(e.Size))
			b.Raw(`</td><td><a href="`)
			b.URL(e.Download)
			b.Raw(`" download>.torrent</a> · <a href="`)
			b.URL(e.Magnet)
			b.Raw(`">magnet</a></td></tr>`)
		}
		b.Raw(`
</tbody>
</table>`)
	} else {
		b.Raw(`
<p>Nothing on the shelf yet.</p>`)
	}
	if s.private() {
		b.Raw(`
<p>This tracker needs a member's key. To get a .torrent with your key in it, add <code>?key=YOUR_KEY</code> to its download link; or, in your client, replace the tracker URL's <code>/announce</code> with <code>/YOUR_KEY/announce</code>.</p>`)
	}
	b.Raw(`
<form method="post" action="/catalog" enctype="multipart/form-data">
<input type="hidden" name="back" value="`)
	b.Text(back)
	b.Raw(`">
<label for="catalog-file">Put a .torrent on the shelf</label>
<input id="catalog-file" type="file" name="torrent" accept=".torrent,application/x-bittorrent" required>`)
	if st.opts.UploadKey != "" {
		b.Raw(`
<label for="catalog-key">Upload key</label>
<input id="catalog-key" type="password" name="key" autocomplete="off" required>`)
	}
	b.Raw(`
<button type="submit">Upload</button>
</form>
</section>
`)
	return b.String()
}

// UploadFields are the upload form's fields, for a page that draws its own
// form: POST multipart/form-data to /catalog.
var UploadFields = []string{"torrent", "key", "back"}
