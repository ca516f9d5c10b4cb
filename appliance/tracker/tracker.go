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
	refusals                    Refusals
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

// SourceAddr is a client's address as the tracker knows it, whichever front and
// socket it came in on: IPv4 in IPv4 form, not mapped into IPv6, and IPv6 without
// a zone. A zone names one of this host's interfaces, not anything about the
// client; kept, it would put fe80::1%eth0 outside fe80::/10 (a zoned address is in
// no prefix) and it would be meaningless to every other peer. The store keeps the
// bare address, the compact wire form has no room for a zone, and replies to the
// client go back over its own connection or socket address, which still has it.
func SourceAddr(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

// Allowed reports whether a client at src may use the tracker.
func (t *Tracker) Allowed(src netip.Addr) bool {
	src = SourceAddr(src)
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
	src = SourceAddr(src)
	if !t.Allowed(src) {
		return t.refuse(ErrNotAllowed)
	}
	addr := t.peerAddr(src, req)
	if req.Event == EventStopped && addr != src {
		return t.foreignStop(src, req, resp)
	}
	p, r := &resp.params, &resp.result
	*p = swarm.Params{
		InfoHash:  req.InfoHash,
		Addr:      netip.AddrPortFrom(addr, req.Port),
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
	t.answered(resp, r.Counts, src)
	resp.Peers4, resp.Peers6 = r.Peers4, r.Peers6
	return nil
}

// peerAddr is the address the peer is stored under: where its packets come from,
// unless the operator lets clients name another (BEP 7 warns this lets anyone aim a
// swarm at a victim, so even then only a unicast address in the allowed networks
// counts). An unusable claim is ignored, not refused: the client still gets its
// peers, under the address it really has.
func (t *Tracker) peerAddr(src netip.Addr, req *AnnounceRequest) netip.Addr {
	if t.cfg.AllowIPParam && req.IP.IsValid() {
		if ip := SourceAddr(req.IP); claimable(ip) && t.Allowed(ip) {
			return ip
		}
	}
	return src
}

// claimable reports whether a client may name ip as its address. Loopback would
// point every peer at its own host (ip=127.0.0.1&port=22 is each peer's SSH
// port); unspecified, "this network" (0.0.0.0/8), multicast of any scope and the
// limited broadcast address are no one's address, and a peer told to connect to
// one would at best fail and at worst reach every host on its link.
func claimable(ip netip.Addr) bool {
	ip = SourceAddr(ip)
	switch {
	case !ip.IsValid(), ip.IsUnspecified(), ip.IsLoopback(), ip.IsMulticast():
		return false
	case ip.Is4():
		a := ip.As4()
		return a[0] != 0 && a != [4]byte{255, 255, 255, 255}
	}
	return true
}

// foreignStop answers a stopped announce that names an address other than its
// source, and removes nothing. The store keys a peer by its address and port and
// keeps nothing else about it, so without this any host could take any peer out
// of any swarm by naming it. The tracker keeps no keys to tell an ip= client from
// an impostor: that would take a per-peer secret in the store, a second record
// layout on the announce path, to serve a parameter that is off by default. So a
// stop counts only from the address it stops; an entry made through ip= from
// elsewhere leaves at the peer timeout, as the entry of a client that vanished
// without a stop does every day. An ordinary announce naming another address may
// still add that entry or refresh it, status included: that is what ip= is for,
// and a status set by someone else lasts only until the owner's next announce.
func (t *Tracker) foreignStop(src netip.Addr, req *AnnounceRequest, resp *AnnounceResponse) error {
	c := t.store.Scrape(req.InfoHash)
	t.answered(resp, c, src)
	resp.Peers4, resp.Peers6 = resp.Peers4[:0], resp.Peers6[:0]
	return nil
}

// answered fills what every successful announce reply carries.
func (t *Tracker) answered(resp *AnnounceResponse, c swarm.Counts, src netip.Addr) {
	t.announces.Add(1)
	resp.Interval = t.jitter(t.cfg.Interval)
	resp.MinInterval = t.cfg.MinInterval
	resp.Complete = c.Seeders
	resp.Incomplete = c.Leechers
	resp.Downloaded = c.Completed
	resp.Downloaders = c.Leechers - c.Partial
	resp.ExternalIP = src
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

// Refusals is where both fronts count their refusals by reason, for the one
// "refused" log line per interval that replaces a line per refusal.
func (t *Tracker) Refusals() *Refusals { return &t.refusals }

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
