package web

import (
	"bytes"
	"encoding/json"
	"image/png"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/panel"
)

// Options are what a Server shows and where it gets it. A reload hands the
// server new ones whole (Set).
type Options struct {
	// Source returns the figures now. It is called once per request for the
	// page and /stats.json, on the request's goroutine. Nil: the page,
	// /stats.json and /panel.png are off (web.enabled), and 404.
	Source func() Snapshot
	// Panel returns what the front panel's display shows; nil or false: the
	// page shows no panel.
	Panel func() (panel.Shown, bool)
	// Refresh is how often an open page fetches /stats.json again.
	Refresh time.Duration
	// Metrics answers /metrics; nil: 404.
	Metrics http.Handler
	// Catalog answers /catalog and what is under it, the shelf of torrents;
	// nil: 404, and the page shows no shelf.
	Catalog http.Handler
	// Shelf lists the shelf for the page; nil: none.
	Shelf func() []ShelfItem
}

// ShelfItem is one torrent on the shelf as the page lists it: what the
// operator chose to publish, never anything about who shares it.
type ShelfItem struct {
	Name     string
	Size     int64
	Magnet   string
	Download string // the .torrent's path on this server
	Private  bool
}

// Server serves the status page and what goes with it. It is an http.Handler
// for the tracker's front to fall back on (httptracker.SetFallback), which
// has already checked that the client is on an allowed network.
type Server struct {
	o atomic.Pointer[Options]
}

// New returns a Server showing what o says.
func New(o Options) *Server {
	s := &Server{}
	s.Set(o)
	return s
}

// Set makes o what the server shows from the next request on.
func (s *Server) Set(o Options) {
	if o.Refresh <= 0 {
		o.Refresh = refreshDefault
	}
	s.o.Store(&o)
}

// ServeHTTP routes the server's paths. Everything but the shelf, which takes
// uploads, is read-only: GET and HEAD.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	o := s.o.Load()
	path := r.URL.Path
	if path == "/catalog" || strings.HasPrefix(path, "/catalog/") {
		if o.Catalog == nil {
			notFound(w)
			return
		}
		o.Catalog.ServeHTTP(w, r)
		return
	}
	var serve func(http.ResponseWriter, *http.Request, *Options)
	switch status := o.Source != nil; {
	case path == "/" && status:
		serve = s.page
	case path == "/stats.json" && status:
		serve = stats
	case path == "/panel.png" && status:
		serve = panelPNG
	case path == "/metrics" && o.Metrics != nil:
		serve = func(w http.ResponseWriter, r *http.Request, o *Options) { o.Metrics.ServeHTTP(w, r) }
	default:
		notFound(w)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	serve(w, r, o)
}

func notFound(w http.ResponseWriter) {
	plain(w, http.StatusNotFound, "not found: the status page is at /")
}

// plain answers with a short text message.
func plain(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// send answers 200 with body. Every figure is of this instant: nothing is
// cached, not by the browser and not by a proxy.
func send(w http.ResponseWriter, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	_, _ = w.Write(body)
}

func stats(w http.ResponseWriter, _ *http.Request, o *Options) {
	body, err := json.Marshal(normal(o.Source()))
	if err != nil {
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	send(w, "application/json; charset=utf-8", append(body, '\n'))
}

// normal makes the lists of a Snapshot empty rather than null, so that a
// reader of /stats.json always finds an array.
func normal(s Snapshot) Snapshot {
	if s.Problems == nil {
		s.Problems = []string{}
	}
	if s.AnnounceURLs == nil {
		s.AnnounceURLs = []string{}
	}
	if s.HistoryAnnouncesPerSecond == nil {
		s.HistoryAnnouncesPerSecond = []float64{}
	}
	return s
}

// panelPNG draws the display as it is now, or, with ?page=N, page N of the
// same view.
func panelPNG(w http.ResponseWriter, r *http.Request, o *Options) {
	var (
		shown panel.Shown
		ok    bool
	)
	if o.Panel != nil {
		shown, ok = o.Panel()
	}
	if !ok {
		plain(w, http.StatusNotFound, "no panel")
		return
	}
	page := shown.Page
	if q := r.URL.Query().Get("page"); q != "" {
		n, err := strconv.Atoi(q)
		if err != nil || n < 0 || n >= panel.NumPages {
			plain(w, http.StatusBadRequest, "page: want 0 to "+strconv.Itoa(panel.NumPages-1))
			return
		}
		page = n
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, panel.Render(page, shown.View, shown.Bounds)); err != nil {
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	send(w, "image/png", buf.Bytes())
}
