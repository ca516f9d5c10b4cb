// Package httptracker is the HTTP front of the tracker (BEP 3, 7, 23, 24, 48):
// GET /announce and GET /scrape (or /KEY/announce and /KEY/scrape, with a member's
// passkey), replies always bencoded and compact; any other path goes to the
// fallback, the status page, for the allowed networks. The query package reads queries,
// writer.go writes replies, proxy.go reads a trusted reverse proxy's headers; this
// file serves them.
package httptracker

import (
	"bytes"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/metrics/requests"
	"github.com/swarmlight/swarmlight/appliance/query"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// Server serves the HTTP tracker on any number of listeners.
type Server struct {
	trk  Tracker
	log  *slog.Logger
	cfg  atomic.Pointer[Config]
	lim  *limits
	pool sync.Pool // *exchange

	fallback atomic.Pointer[fallback] // what answers other paths; nil: 404
	reqs     requests.Counts          // announces and scrapes, by result, and how long each took

	gen       atomic.Pointer[generation] // serves new connections; nil once shut down
	mu        sync.Mutex                 // guards what follows, and Reconfigure
	closed    bool
	listeners map[net.Listener]struct{}
	gens      map[*generation]struct{} // the current one and those still retiring
	retiring  sync.WaitGroup           // generations finishing their requests
}

// exchange is the per-request scratch space, reused so that a steady stream of
// announces does not churn the heap. tracker.scrape_max and tracker.numwant_max
// bound all it holds (a full scrape is streamed, not kept here), so the pool does too.
type exchange struct {
	req     tracker.AnnounceRequest
	resp    tracker.AnnounceResponse
	hashes  []tracker.InfoHash
	passkey access.Key // a scrape's; an announce's is in req
	entries []tracker.ScrapeEntry
	body    bytes.Buffer
}

// New returns a Server answering from trk, configured by cfg. A cfg that Reconfigure
// would refuse is used with its negative numbers read as zero.
func New(cfg Config, trk Tracker, logger *slog.Logger) *Server {
	s := &Server{trk: trk, log: logger, lim: newLimits(logger),
		listeners: make(map[net.Listener]struct{}), gens: make(map[*generation]struct{})}
	s.pool.New = func() any { return new(exchange) }
	if cfg.check() != nil {
		cfg.ReadHeaderTimeout, cfg.WriteTimeout, cfg.IdleTimeout = max(cfg.ReadHeaderTimeout, 0), max(cfg.WriteTimeout, 0), max(cfg.IdleTimeout, 0)
		cfg.MaxHeaderBytes, cfg.MaxConnections, cfg.MaxConnectionsPerSource, cfg.ScrapeMax = max(cfg.MaxHeaderBytes, 0),
			max(cfg.MaxConnections, 0), max(cfg.MaxConnectionsPerSource, 0), max(cfg.ScrapeMax, 0)
	}
	cfg.TrustedProxies = slices.Clone(cfg.TrustedProxies)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg.Store(&cfg)
	s.lim.set(cfg.MaxConnections, cfg.MaxConnectionsPerSource)
	s.nextGeneration(&cfg)
	return s
}

// Stats are the HTTP front's connection counts.
type Stats struct {
	Open          int64  // connections open now
	CapRefused    uint64 // connections refused at http.max_connections
	SourceRefused uint64 // connections refused at http.max_connections_per_source
}

// Stats returns the counts.
func (s *Server) Stats() Stats {
	return Stats{Open: s.lim.open.Load(), CapRefused: s.lim.capRefused.Load(), SourceRefused: s.lim.sourceRefused.Load()}
}

// Requests returns the announces and scrapes answered, by result, and how long
// they took.
func (s *Server) Requests() requests.Snapshot { return s.reqs.Snapshot() }

// ServeHTTP routes the two tracker endpoints, and other paths to the fallback.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			// net/http would log the panic with the client's address: say only that it
			// happened.
			s.log.Error("http: handler panic")
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
	}()
	endpoint, key := route(r.URL.Path)
	if endpoint == "" {
		s.other(w, r)
		return
	}
	if !getOrHead(w, r) {
		return
	}
	start := time.Now()
	x := s.pool.Get().(*exchange)
	defer s.pool.Put(x)
	x.body.Reset()
	var (
		streamed bool
		err      error
		action   = requests.Announce
		result   = requests.OK
	)
	if endpoint == "announce" {
		err = s.announce(x, r, key)
	} else {
		action = requests.Scrape
		streamed, err = s.scrape(w, x, r, key)
	}
	switch {
	case err != nil:
		result = s.fail(w, x, err)
	case !streamed:
		reply(w, &x.body)
	}
	s.reqs.Observe(action, result, time.Since(start))
}

// route splits a request's path into its endpoint, "announce" or "scrape", and the
// passkey it carries: /announce, /scrape, or a member's /KEY/announce and
// /KEY/scrape. Any other path has no endpoint.
func route(path string) (endpoint, key string) {
	switch path {
	case "/announce", "/scrape":
		return path[1:], ""
	}
	for _, e := range [...]string{"announce", "scrape"} {
		if k, ok := query.PathKey(path, e); ok {
			return e, k
		}
	}
	return "", ""
}

// setPathKey puts a key from the path over any passkey= in the query: the path is
// the URL the member was given, a query parameter is what a client may add.
func setPathKey(k *access.Key, key string) {
	if key != "" {
		*k = access.Key{}
		k.Set(key)
	}
}

// getOrHead answers 405 to any other method, and reports whether r is a GET or HEAD.
func getOrHead(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	return false
}

// fallback is what SetFallback installed; a pointer to it is swapped whole.
type fallback struct{ h http.Handler }

// SetFallback makes h answer every path that is no tracker endpoint (the
// status page and what is served beside it), for clients in the allowed
// networks only; others get 403. A nil h goes back to 404 for such paths. It
// may be called at any time: a request sees the old handler or the new one.
func (s *Server) SetFallback(h http.Handler) {
	if h == nil {
		s.fallback.Store(nil)
		return
	}
	s.fallback.Store(&fallback{h})
}

// other answers a path that is no tracker endpoint. The fallback checks the
// client as an announce does, with the address a trusted proxy names: what it
// serves is for the LAN the tracker serves, and no one else. The fallback
// answers every method itself (an upload is a POST).
func (s *Server) other(w http.ResponseWriter, r *http.Request) {
	f := s.fallback.Load()
	if f == nil {
		if getOrHead(w, r) {
			s.notFound(w, r)
		}
		return
	}
	if src, err := s.client(r); err != nil || !s.trk.Allowed(src) {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "forbidden: your network is not allowed to use this tracker", http.StatusForbidden)
		return
	}
	f.h.ServeHTTP(w, r)
}

// notFound answers a path that is no tracker endpoint, and says where to announce.
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	peer, err := source(r)
	fromProxy := err == nil && trusted(s.config().TrustedProxies, peer)
	http.Error(w, "not found: this is a BitTorrent tracker, announce to "+announceURL(r, fromProxy), http.StatusNotFound)
}

// announce answers GET /announce into x.body; key is the passkey in the path.
func (s *Server) announce(x *exchange, r *http.Request, key string) error {
	src, err := s.client(r)
	if err != nil {
		return err
	}
	if err := query.ParseAnnounce(r.URL.RawQuery, &x.req); err != nil {
		s.trk.Refused()
		return err
	}
	setPathKey(&x.req.Passkey, key)
	if err := s.trk.Announce(src, &x.req, tracker.AnyFamily, &x.resp); err != nil {
		return err
	}
	return writeAnnounce(&x.body, &x.resp)
}

// scrape answers GET /scrape into x.body; key is the passkey in the path. A scrape
// naming no torrent is a full scrape, too big for any buffer: it is streamed to w,
// and streamed says so.
func (s *Server) scrape(w http.ResponseWriter, x *exchange, r *http.Request, key string) (streamed bool, err error) {
	src, err := s.client(r)
	if err != nil {
		return false, err
	}
	x.hashes, err = query.ParseScrape(r.URL.RawQuery, x.hashes[:0], s.config().ScrapeMax, &x.passkey)
	if err != nil {
		s.trk.Refused()
		return false, err
	}
	setPathKey(&x.passkey, key)
	if len(x.hashes) == 0 {
		return s.fullScrape(w, src, &x.passkey)
	}
	if x.entries, err = s.trk.Scrape(src, &x.passkey, x.hashes, x.entries[:0]); err != nil {
		return false, err
	}
	return false, writeScrape(&x.body, x.entries)
}

// fail answers with a bencoded failure reason and HTTP 200, as clients expect. An
// error that is not a *tracker.Error is reported as an internal error. It returns
// which of the two it was.
func (s *Server) fail(w http.ResponseWriter, x *exchange, err error) requests.Result {
	result := requests.Refused
	var te *tracker.Error
	if !errors.As(err, &te) {
		te = &tracker.Error{Reason: "internal error"}
		result = requests.Error
	}
	// The reason is one of a fixed set of phrases that never echo the request. It
	// is counted, for one log line per interval: a line per refusal would let a
	// flood of bad requests fill the journal.
	s.trk.Refusals().Add("http", te.Reason)
	x.body.Reset()
	if werr := writeFailure(&x.body, te); werr != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return requests.Error
	}
	reply(w, &x.body)
	return result
}

func reply(w http.ResponseWriter, body *bytes.Buffer) {
	h := w.Header()
	setHeaders(h)
	h.Set("Content-Length", strconv.Itoa(body.Len()))
	_, _ = w.Write(body.Bytes())
}

// setHeaders sets what every tracker reply carries, buffered or streamed.
func setHeaders(h http.Header) {
	h.Set("Content-Type", "text/plain")
	h.Set("Cache-Control", "no-store")
}

var errNoSource = &tracker.Error{Reason: "cannot tell your address"}

// source is the client's address as the connection shows it, in the one form both
// fronts give the tracker: a link-local client's RemoteAddr carries the zone of
// the interface it came in on (fe80::1%eth0), which the UDP front never sees.
func source(r *http.Request) (netip.Addr, error) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, errNoSource
	}
	return tracker.SourceAddr(ap.Addr()), nil
}

// client is the client's address: the connection's, or, when the connection
// comes from a trusted reverse proxy (http.trusted_proxies), the one the proxy's
// forwarding headers name (proxy.go). From anyone else those headers are ignored:
// they are the client's own claim, and would let it pose as any address.
func (s *Server) client(r *http.Request) (netip.Addr, error) {
	peer, err := source(r)
	if err != nil {
		return peer, err
	}
	if list := s.config().TrustedProxies; len(list) > 0 && trusted(list, peer) {
		if a, ok := forwardedFor(r.Header, list); ok {
			return a, nil
		}
	}
	return peer, nil
}

// errorLog receives net/http's own error lines, which name the client's address
// ("TLS handshake error from 10.0.0.7:51234"). It logs only what kind of error
// happened.
type errorLog struct{ log *slog.Logger }

func (e errorLog) Write(p []byte) (int, error) {
	kind := "server error"
	for _, k := range []string{"TLS handshake error", "Accept error", "panic", "superfluous", "semicolon"} {
		if strings.Contains(string(p), k) {
			kind = strings.ToLower(k)
			break
		}
	}
	e.log.Debug("http: " + kind)
	return len(p), nil
}
