// Package tracker holds announce and scrape semantics shared by every front (HTTP,
// UDP): who may use the tracker, which address a peer is stored under, seeder or
// leecher, how many peers to hand out, intervals, and what a refusal says. Fronts only
// translate wire formats to and from the types in request.go.
package tracker

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/swarm"
)

// Tracker answers announces and scrapes from a swarm store.
type Tracker struct {
	cfg   config.Tracker
	store swarm.Store

	announces, scrapes, refused atomic.Uint64
}

// Stats are the tracker's aggregate counters, with the store's.
type Stats struct {
	Announces uint64 // announces answered with peers or counts
	Scrapes   uint64 // scrape requests answered
	Refused   uint64 // requests answered with a failure (bad input, access, caps)
	Swarm     swarm.Stats
}

// New returns a Tracker over store, configured by cfg.
func New(cfg config.Tracker, store swarm.Store) *Tracker {
	return &Tracker{cfg: cfg, store: store}
}

// Allowed reports whether a client at src may use the tracker.
func (t *Tracker) Allowed(src netip.Addr) bool {
	src = src.Unmap()
	for _, p := range t.cfg.AllowedNetworks {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Announce handles one announce from a client whose packets come from src. fams says
// which address families the front can send back. On failure it returns an *Error.
func (t *Tracker) Announce(src netip.Addr, req *AnnounceRequest, fams swarm.Family, resp *AnnounceResponse) error {
	src = src.Unmap()
	if !t.Allowed(src) {
		return t.refuse(ErrNotAllowed)
	}
	p, r := &resp.params, &resp.result
	*p = swarm.Params{
		InfoHash:  req.InfoHash,
		Addr:      netip.AddrPortFrom(t.peerAddr(src, req), req.Port),
		Status:    status(req),
		Completed: req.Event == EventCompleted,
		Stopped:   req.Event == EventStopped,
		NumWant:   t.numWant(req.NumWant),
		Families:  fams,
		Source:    src,
	}
	*r = swarm.Result{Peers4: resp.Peers4[:0], Peers6: resp.Peers6[:0]}
	if err := t.store.Announce(p, r); err != nil {
		return t.refuse(t.capError(err))
	}
	t.announces.Add(1)
	resp.Interval = t.jitter(t.cfg.Interval)
	resp.MinInterval = t.cfg.MinInterval
	resp.Complete = r.Seeders
	resp.Incomplete = r.Leechers
	resp.Downloaded = r.Completed
	resp.Downloaders = r.Leechers - r.Partial
	resp.Peers4, resp.Peers6 = r.Peers4, r.Peers6
	resp.ExternalIP = src
	return nil
}

// peerAddr is the address the peer is stored under: where its packets come from,
// unless the operator lets clients name another (BEP 7 warns this lets anyone aim a
// swarm at a victim, so even then only an address in the allowed networks counts).
func (t *Tracker) peerAddr(src netip.Addr, req *AnnounceRequest) netip.Addr {
	if t.cfg.AllowIPParam && req.IP.IsValid() {
		if ip := req.IP.Unmap(); !ip.IsUnspecified() && t.Allowed(ip) {
			return ip
		}
	}
	return src
}

func status(req *AnnounceRequest) swarm.Status {
	switch {
	case req.Left == 0:
		return swarm.Seeder
	case req.Event == EventPaused:
		return swarm.PartialSeed
	}
	return swarm.Leecher
}

func (t *Tracker) numWant(n int) int {
	if n < 0 {
		n = t.cfg.NumWantDefault
	}
	return min(n, t.cfg.NumWantMax)
}

// jitter spreads re-announces by ±10%, so that clients started together (a class
// booting at 9:00) do not come back together.
func (t *Tracker) jitter(d time.Duration) time.Duration {
	spread := int64(d) / 10
	if spread <= 0 {
		return d
	}
	return time.Duration(int64(d) - spread + rand.Int64N(2*spread+1)).Round(time.Second)
}

// capError turns a store refusal into what the client is told. A refusal is
// temporary by nature (peers leave, windows slide), so each says when to come back.
func (t *Tracker) capError(err error) *Error {
	retry := max(t.cfg.MinInterval, time.Minute)
	for _, c := range capErrors {
		if errors.Is(err, c.err) {
			return &Error{Reason: c.reason, RetryIn: retry}
		}
	}
	return &Error{Reason: "internal tracker error", RetryIn: retry}
}

var capErrors = []struct {
	err    error
	reason string
}{
	{swarm.ErrTooManyTorrents, "tracker is full: too many torrents"},
	{swarm.ErrTooManyPeers, "tracker is full: too many peers"},
	{swarm.ErrSwarmFull, "this torrent's swarm is full"},
	{swarm.ErrMemoryFull, "tracker is full: out of memory for new torrents and peers"},
	{swarm.ErrSourceTorrents, "too many new torrents from your address; try again later"},
	{swarm.ErrSourcePeers, "too many peers from your address"},
}

func (t *Tracker) refuse(e *Error) error {
	t.refused.Add(1)
	return e
}

// Refused counts a request a front refused before it reached the tracker (a
// malformed query or packet), so that all refusals show in one figure.
func (t *Tracker) Refused() { t.refused.Add(1) }

// Scrape appends an entry for each of hashes to out, zero counts for unknown ones.
// Naming no hash asks for every torrent, which only FullScrape answers: it streams
// them, where a list here would have to hold them all.
func (t *Tracker) Scrape(src netip.Addr, hashes []InfoHash, out []ScrapeEntry) ([]ScrapeEntry, error) {
	if !t.Allowed(src) {
		return out, t.refuse(ErrNotAllowed)
	}
	if len(hashes) == 0 {
		if !t.cfg.FullScrape {
			return out, t.refuse(ErrFullScrape)
		}
		return out, t.refuse(errNoHash)
	}
	for _, h := range hashes {
		out = append(out, entry(h, t.store.Scrape(h)))
	}
	t.scrapes.Add(1)
	return out, nil
}

func entry(h [20]byte, c swarm.Counts) ScrapeEntry {
	return ScrapeEntry{
		InfoHash:    h,
		Complete:    c.Seeders,
		Incomplete:  c.Leechers,
		Downloaded:  c.Completed,
		Downloaders: c.Leechers - c.Partial,
	}
}

// Stats returns the aggregate counters.
func (t *Tracker) Stats() Stats {
	return Stats{
		Announces: t.announces.Load(),
		Scrapes:   t.scrapes.Load(),
		Refused:   t.refused.Load(),
		Swarm:     t.store.Stats(),
	}
}
