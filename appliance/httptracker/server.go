// Package httptracker is the HTTP front of the tracker (BEP 3, 7, 23, 24, 48):
// GET /announce and GET /scrape, replies always bencoded and compact. parser.go reads
// queries, writer.go writes replies; this file serves them.
package httptracker

import (
	"bytes"
	"context"
	"errors"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/query"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// Server serves the HTTP tracker on any number of listeners.
type Server struct {
	trk       *tracker.Tracker
	log       *slog.Logger
	scrapeMax int
	lim       *limits
	srv       *http.Server
	pool      sync.Pool // *exchange
}

// exchange is the per-request scratch space, reused so that a steady stream of
// announces does not churn the heap. tracker.scrape_max and tracker.numwant_max
// bound all it holds (a full scrape is streamed, not kept here), so the pool does too.
type exchange struct {
	req     tracker.AnnounceRequest
	resp    tracker.AnnounceResponse
	hashes  []tracker.InfoHash
	entries []tracker.ScrapeEntry
	body    bytes.Buffer
}

// New returns a Server answering from trk.
func New(cfg config.HTTP, tcfg config.Tracker, trk *tracker.Tracker, logger *slog.Logger) *Server {
	s := &Server{trk: trk, log: logger, scrapeMax: tcfg.ScrapeMax,
		lim: newLimits(cfg.MaxConnections, cfg.MaxConnectionsPerSource, logger)}
	s.pool.New = func() any { return new(exchange) }
	s.srv = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadHeaderTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          log.New(errorLog{logger}, "", 0),
	}
	return s
}

// Serve accepts connections on l until Shutdown, and returns nil after a clean
// shutdown. The connection caps hold across all the listeners served; a connection
// over them is refused at once (listener.go).
func (s *Server) Serve(l net.Listener) error {
	if err := s.srv.Serve(&limitListener{Listener: l, lim: s.lim}); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
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

// Shutdown stops accepting and waits, until ctx is done, for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// ServeHTTP routes the two tracker endpoints.
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
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	x := s.pool.Get().(*exchange)
	defer s.pool.Put(x)
	x.body.Reset()
	var (
		streamed bool
		err      error
	)
	switch r.URL.Path {
	case "/announce":
		err = s.announce(x, r)
	case "/scrape":
		streamed, err = s.scrape(w, x, r)
	default:
		http.Error(w, "not found: this is a BitTorrent tracker, announce to /announce", http.StatusNotFound)
		return
	}
	switch {
	case err != nil:
		s.fail(w, x, err)
	case !streamed:
		reply(w, &x.body)
	}
}

// announce answers GET /announce into x.body.
func (s *Server) announce(x *exchange, r *http.Request) error {
	src, err := source(r)
	if err != nil {
		return err
	}
	if err := query.ParseAnnounce(r.URL.RawQuery, &x.req); err != nil {
		s.trk.Refused()
		return err
	}
	if err := s.trk.Announce(src, &x.req, swarm.AnyFamily, &x.resp); err != nil {
		return err
	}
	return writeAnnounce(&x.body, &x.resp)
}

// scrape answers GET /scrape into x.body. A scrape naming no torrent is a full
// scrape, too big for any buffer: it is streamed to w, and streamed says so.
func (s *Server) scrape(w http.ResponseWriter, x *exchange, r *http.Request) (streamed bool, err error) {
	src, err := source(r)
	if err != nil {
		return false, err
	}
	x.hashes, err = query.ParseScrape(r.URL.RawQuery, x.hashes[:0], s.scrapeMax)
	if err != nil {
		s.trk.Refused()
		return false, err
	}
	if len(x.hashes) == 0 {
		return s.fullScrape(w, src)
	}
	if x.entries, err = s.trk.Scrape(src, x.hashes, x.entries[:0]); err != nil {
		return false, err
	}
	return false, writeScrape(&x.body, x.entries)
}

// fail answers with a bencoded failure reason and HTTP 200, as clients expect. An
// error that is not a *tracker.Error is reported as an internal error.
func (s *Server) fail(w http.ResponseWriter, x *exchange, err error) {
	var te *tracker.Error
	if !errors.As(err, &te) {
		te = &tracker.Error{Reason: "internal error"}
	}
	// The reason is one of a fixed set of phrases that never echo the request. It
	// is counted, for one log line per interval: a line per refusal would let a
	// flood of bad requests fill the journal.
	s.trk.Refusals().Add("http", te.Reason)
	x.body.Reset()
	if werr := writeFailure(&x.body, te); werr != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	reply(w, &x.body)
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
