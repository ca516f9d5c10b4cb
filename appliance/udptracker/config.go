package udptracker

import (
	"net/netip"
	"runtime"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// Config is what the UDP front answers with; Reconfigure swaps it while packets
// are being answered.
type Config struct {
	NumWantDefault int // peers handed out when the client asks for the default (-1)
	ScrapeMax      int // the most info-hashes one scrape is answered for; never more than a datagram holds
}

// ListenConfig is how a Listener's sockets are made.
type ListenConfig struct {
	Workers     int // sockets, each with its worker; 0: one per CPU core
	ReadBuffer  int // bytes; 0 keeps the system default
	WriteBuffer int // bytes; 0 keeps the system default
}

func (lc ListenConfig) workers() int {
	if lc.Workers <= 0 {
		return runtime.GOMAXPROCS(0)
	}
	return lc.Workers
}

// Tracker is what the UDP front asks of the tracker: answers, and where to count
// refusals. *tracker.Tracker is one.
type Tracker interface {
	Allowed(src netip.Addr) bool
	Announce(src netip.Addr, req *tracker.AnnounceRequest, fams tracker.Family, resp *tracker.AnnounceResponse) error
	Scrape(src netip.Addr, key *access.Key, hashes []tracker.InfoHash, out []tracker.ScrapeEntry) ([]tracker.ScrapeEntry, error)
	Refused()
	Refusals() *tracker.Refusals
}

var _ Tracker = (*tracker.Tracker)(nil)

// Reconfigure makes cfg the configuration in force, from the next packet on.
func (s *Server) Reconfigure(cfg Config) {
	cfg.NumWantDefault = max(cfg.NumWantDefault, 0)
	cfg.ScrapeMax = min(max(cfg.ScrapeMax, 0), maxScrape)
	s.cfg.Store(&cfg)
}
