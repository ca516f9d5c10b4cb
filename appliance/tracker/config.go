package tracker

import (
	"net/netip"
	"slices"
	"time"

	"github.com/swarmlight/swarmlight/appliance/swarm"
)

// Config is the tracker's part of the configuration: what every announce and
// scrape is answered with, whichever front it came in on. The appliance maps the
// central configuration onto it; a Tracker holds one as an immutable snapshot.
type Config struct {
	Interval        time.Duration // how long a client should wait between announces
	MinInterval     time.Duration // the least it must wait
	NumWantDefault  int           // peers handed out when the client names no number
	NumWantMax      int           // the most peers handed out
	ScrapeMax       int           // the most info-hashes one scrape is answered for
	FullScrape      bool          // answer a scrape naming no torrent with every torrent (BEP 48)
	AllowIPParam    bool          // let a client name its address (ip=, BEP 7)
	AllowedNetworks []netip.Prefix
}

// Reconfigure makes cfg the configuration in force. A request already running
// finishes under the one it started with; the next one sees cfg whole.
func (t *Tracker) Reconfigure(cfg Config) {
	// The snapshot is the Tracker's own: a caller changing its slice later must
	// not change what requests read without a lock.
	cfg.AllowedNetworks = slices.Clone(cfg.AllowedNetworks)
	t.cfg.Store(&cfg)
}

// Config returns the configuration in force.
func (t *Tracker) Config() Config {
	c := *t.cfg.Load()
	c.AllowedNetworks = slices.Clone(c.AllowedNetworks)
	return c
}

// Family selects which address families a front can send back to a client. It is
// the store's type under the tracker's name, so that the fronts need not know the
// store.
type Family = swarm.Family

// Families. A UDP socket can carry only its own family; HTTP carries both.
const (
	IPv4      = swarm.IPv4
	IPv6      = swarm.IPv6
	AnyFamily = swarm.AnyFamily
)
