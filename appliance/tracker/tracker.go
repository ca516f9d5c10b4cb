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

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/swarm"
)

// Tracker answers announces and scrapes from a swarm store.
type Tracker struct {
	// cfg is swapped whole by Reconfigure; each request loads it once, so one
	// request never sees half of one configuration and half of the next.
	cfg    atomic.Pointer[Config]
	store  swarm.Store
	access *access.Control

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

// New returns a Tracker over store, configured by cfg, letting in whom acc lets
// in; a nil acc is open mode: every torrent, every client, no key.
func New(cfg Config, store swarm.Store, acc *access.Control) *Tracker {
	if acc == nil {
		acc = access.New()
	}
	t := &Tracker{store: store, access: acc}
	t.Reconfigure(cfg)
	return t
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
func (t *Tracker) Allowed(src netip.Addr) bool { return t.cfg.Load().allowed(src) }

func (c *Config) allowed(src netip.Addr) bool {
	src = SourceAddr(src)
	for _, p := range c.AllowedNetworks {
		if p.Contains(src) {
			return true
		}
	}
	return false
}

// Announce handles one announce from a client whose packets come from src. fams says
// which address families the front can send back. On failure it returns an *Error.
func (t *Tracker) Announce(src netip.Addr, req *AnnounceRequest, fams Family, resp *AnnounceResponse) error {
	cfg := t.cfg.Load()
	src = SourceAddr(src)
	if !cfg.allowed(src) {
		return t.refuse(ErrNotAllowed)
	}
	// Before the stop below too: a stop for a torrent or with a key the policy
	// refuses is refused like any announce, not answered with its counts.
	if err := t.access.CheckAnnounce((*[20]byte)(&req.InfoHash), &req.Passkey, (*[20]byte)(&req.PeerID)); err != nil {
		return t.refuse(accessError(err))
	}
	addr := cfg.peerAddr(src, req)
	if req.Event == EventStopped && addr != src {
		return t.foreignStop(cfg, src, req, resp)
	}
	p, r := &resp.params, &resp.result
	*p = swarm.Params{
		InfoHash:  req.InfoHash,
		Addr:      netip.AddrPortFrom(addr, req.Port),
		Status:    status(req),
		Completed: req.Event == EventCompleted,
		Stopped:   req.Event == EventStopped,
		NumWant:   cfg.numWant(req.NumWant),
		Families:  fams,
		Source:    src,
	}
	*r = swarm.Result{Peers4: resp.Peers4[:0], Peers6: resp.Peers6[:0]}
	if err := t.store.Announce(p, r); err != nil {
		return t.refuse(cfg.capError(err))
	}
	t.answered(cfg, resp, r.Counts, src)
	resp.Peers4, resp.Peers6 = r.Peers4, r.Peers6
	return nil
}

// peerAddr is the address the peer is stored under: where its packets come from,
// unless the operator lets clients name another (BEP 7 warns this lets anyone aim a
// swarm at a victim, so even then only a unicast address in the allowed networks
// counts). An unusable claim is ignored, not refused: the client still gets its
// peers, under the address it really has.
func (c *Config) peerAddr(src netip.Addr, req *AnnounceRequest) netip.Addr {
	if c.AllowIPParam && req.IP.IsValid() {
		if ip := SourceAddr(req.IP); claimable(ip) && c.allowed(ip) {
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
func (t *Tracker) foreignStop(cfg *Config, src netip.Addr, req *AnnounceRequest, resp *AnnounceResponse) error {
	c := t.store.Scrape(req.InfoHash)
	t.answered(cfg, resp, c, src)
	resp.Peers4, resp.Peers6 = resp.Peers4[:0], resp.Peers6[:0]
	return nil
}

// answered fills what every successful announce reply carries.
func (t *Tracker) answered(cfg *Config, resp *AnnounceResponse, c swarm.Counts, src netip.Addr) {
	t.announces.Add(1)
	resp.Interval = jitter(cfg.Interval)
	resp.MinInterval = cfg.MinInterval
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

func (c *Config) numWant(n int) int {
	if n < 0 {
		n = c.NumWantDefault
	}
	return min(n, c.NumWantMax)
}

// jitter spreads re-announces by ±10%, so that clients started together (a class
// booting at 9:00) do not come back together.
func jitter(d time.Duration) time.Duration {
	spread := int64(d) / 10
	if spread <= 0 {
		return d
	}
	return time.Duration(int64(d) - spread + rand.Int64N(2*spread+1)).Round(time.Second)
}

// capError turns a store refusal into what the client is told. A refusal is
// temporary by nature (peers leave, windows slide), so each says when to come back.
func (c *Config) capError(err error) *Error {
	retry := max(c.MinInterval, time.Minute)
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
//
// key is the passkey the scrape carried (nil for none), which private mode
// requires. A torrent the policy does not track is answered with zero counts, as
// an unknown one is: refusing it instead would tell anyone which hashes are listed.
func (t *Tracker) Scrape(src netip.Addr, key *access.Key, hashes []InfoHash, out []ScrapeEntry) ([]ScrapeEntry, error) {
	cfg := t.cfg.Load()
	if !cfg.allowed(src) {
		return out, t.refuse(ErrNotAllowed)
	}
	if err := t.access.CheckScrape(orNoKey(key)); err != nil {
		return out, t.refuse(accessError(err))
	}
	if len(hashes) == 0 {
		if !cfg.FullScrape {
			return out, t.refuse(ErrFullScrape)
		}
		return out, t.refuse(errNoHash)
	}
	for _, h := range hashes {
		var c swarm.Counts
		if t.access.Tracked((*[20]byte)(&h)) {
			c = t.store.Scrape(h)
		}
		out = append(out, entry(h, c))
	}
	t.scrapes.Add(1)
	return out, nil
}

// noKey stands for the key of a request that carried none.
var noKey access.Key

func orNoKey(k *access.Key) *access.Key {
	if k == nil {
		return &noKey
	}
	return k
}

// accessError is the fixed reply to an access refusal. The sentinels are compared
// directly first: errors.Is would do, but this runs per refused announce.
func accessError(err error) *Error {
	switch {
	case err == access.ErrNotTracked, errors.Is(err, access.ErrNotTracked):
		return ErrNotTracked
	case err == access.ErrKey, errors.Is(err, access.ErrKey):
		return ErrKey
	case err == access.ErrClient, errors.Is(err, access.ErrClient):
		return ErrClient
	}
	return &Error{Reason: "internal tracker error", RetryIn: time.Minute}
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
