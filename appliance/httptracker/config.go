package httptracker

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// Config is the HTTP front's part of the configuration. The appliance maps the
// central configuration onto it; a Server holds one as an immutable snapshot.
type Config struct {
	ReadHeaderTimeout       time.Duration // also bounds the whole request: a GET has no body
	WriteTimeout            time.Duration
	IdleTimeout             time.Duration
	MaxHeaderBytes          int
	MaxConnections          int // 0: no cap
	MaxConnectionsPerSource int // 0: no cap
	ScrapeMax               int // the most info-hashes one scrape may name
	TrustedProxies          []netip.Prefix
}

// Tracker is what the HTTP front asks of the tracker: answers, and where to count
// refusals. *tracker.Tracker is one.
type Tracker interface {
	Announce(src netip.Addr, req *tracker.AnnounceRequest, fams tracker.Family, resp *tracker.AnnounceResponse) error
	Scrape(src netip.Addr, key *access.Key, hashes []tracker.InfoHash, out []tracker.ScrapeEntry) ([]tracker.ScrapeEntry, error)
	FullScrape(src netip.Addr, key *access.Key, emit func(tracker.ScrapeEntry) error) error
	Refused()
	Refusals() *tracker.Refusals
	Allowed(src netip.Addr) bool
}

var _ Tracker = (*tracker.Tracker)(nil)

func (c *Config) check() error {
	var errs []error
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"read header timeout", c.ReadHeaderTimeout}, {"write timeout", c.WriteTimeout}, {"idle timeout", c.IdleTimeout}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max header bytes", c.MaxHeaderBytes}, {"max connections", c.MaxConnections},
		{"max connections per source", c.MaxConnectionsPerSource}, {"scrape max", c.ScrapeMax}} {
		if n.v < 0 {
			errs = append(errs, fmt.Errorf("%s %d is negative", n.name, n.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("httptracker: config: %w", err)
	}
	return nil
}

// sameServer reports whether a and b configure http.Server alike: if not, new
// connections need a new one (generation.go).
func sameServer(a, b *Config) bool {
	return a.ReadHeaderTimeout == b.ReadHeaderTimeout && a.WriteTimeout == b.WriteTimeout &&
		a.IdleTimeout == b.IdleTimeout && a.MaxHeaderBytes == b.MaxHeaderBytes
}

// Reconfigure makes cfg the configuration in force. The connection caps, the scrape
// cap and the trusted proxies apply to the next connection and request; the
// timeouts and header limit apply to connections accepted from now on, while those
// already open finish what they are doing under the old ones and are then closed
// (an idle keep-alive at once: a client reopens it, and Go's retries an idempotent
// GET by itself). A bad cfg is an error and changes nothing.
func (s *Server) Reconfigure(cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	cfg.TrustedProxies = slices.Clone(cfg.TrustedProxies)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("httptracker: reconfigure: server shut down")
	}
	old := s.cfg.Load()
	s.cfg.Store(&cfg)
	s.lim.set(cfg.MaxConnections, cfg.MaxConnectionsPerSource)
	if !sameServer(old, &cfg) {
		s.nextGeneration(&cfg)
	}
	return nil
}

// config is the configuration in force; a request loads it once.
func (s *Server) config() *Config { return s.cfg.Load() }
