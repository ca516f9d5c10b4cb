// Package swarm is the peer store: which peers are in which swarm, kept in RAM only,
// for as long as they keep announcing.
//
// The Store contract, which every implementation keeps and swarmtest.Run checks:
//
//   - A swarm is keyed by an opaque 20-byte info-hash. A peer in it is identified by
//     its address and port alone (IPv4 and IPv6 peers share the swarm); nothing else
//     about the peer (peer id, key, counters) is kept.
//   - Announce adds or refreshes the peer, records its status (leecher, seeder or
//     partial seed), and appends up to NumWant other peers, chosen at random, to the
//     result in compact form (6 bytes per IPv4 peer, 18 per IPv6). The requester is
//     never among them. A seeder or partial seed is sent only downloaders (leechers
//     that are not partial seeds): nobody else wants its data.
//   - Announce with Stopped removes the peer and returns no peers.
//   - Completed counts a snatch once: when a peer that the store did not already hold
//     as a seeder announces completion as a seeder.
//   - A swarm left without peers keeps its completed count for Opts.Retention, so
//     that a scrape still answers how often it was downloaded; one that was never
//     completed, or any with a Retention of 0, is forgotten at once. A retained
//     swarm counts as a torrent and costs only its record.
//   - A peer not heard from for the peer timeout is not returned and is removed by
//     Expire; Expire never holds more than one shard of the store at a time.
//   - Hard caps: a new torrent beyond MaxTorrents, a new peer beyond MaxPeers in all
//     or beyond MaxPeersPerTorrent in its swarm, or either beyond the MaxMemory
//     budget, is refused with ErrTooManyTorrents, ErrTooManyPeers, ErrSwarmFull or
//     ErrMemoryFull, counted in Stats, and changes nothing; peers already stored keep
//     working. At the torrent cap, retained swarms are dropped to make room, the
//     longest-empty first; swarms with peers never are. Concurrent announces never
//     take the store past a cap.
//   - Per-source quotas: a source (the announce's Source, an IPv4 address or an IPv6
//     /64) creates at most SourceMaxNewTorrents swarms in a sliding SourceWindow, and
//     the peers whose address lies in one source number at most SourceMaxPeers.
//     Beyond them an announce is refused with ErrSourceTorrents or ErrSourcePeers,
//     counted apart from the caps, and changes nothing.
//   - Memory is bounded by the caps and the budget whatever clients send.
//   - Reconfigure changes caps, budget, quotas, timeout and retention live; peers
//     and swarms already stored are kept, even when now over a lowered cap.
//   - All methods are safe for concurrent use.
package swarm

import (
	"errors"
	"net/netip"
	"time"
)

// Status is what a peer is doing in its swarm.
type Status uint8

// Peer statuses.
const (
	Leecher     Status = 0 // downloading
	Seeder      Status = 1 // has everything (left=0)
	PartialSeed Status = 2 // has all it wants, wants nothing more (BEP 21, event=paused)
)

// Family selects which address families a requester can receive.
type Family uint8

// Families. A UDP socket can carry only its own family; HTTP carries both.
const (
	IPv4 Family = 1 << iota
	IPv6
	AnyFamily = IPv4 | IPv6
)

// Params is one announce as the store sees it.
type Params struct {
	InfoHash  [20]byte
	Addr      netip.AddrPort // the address other peers will be given; must be valid and unmapped
	Status    Status
	Completed bool // the peer announced event=completed
	Stopped   bool // the peer is leaving the swarm
	NumWant   int  // how many peers to return, at most
	Families  Family
	// Source is where the announce came from, for the per-source quotas; the
	// zero Addr means Addr's address.
	Source netip.Addr
}

// Counts are a swarm's aggregate figures.
type Counts struct {
	Seeders   int // complete
	Leechers  int // incomplete, partial seeds included
	Partial   int // partial seeds, so downloaders = Leechers - Partial
	Completed int // snatches since the swarm was created
}

// Result receives an announce's answer. The caller owns Peers4 and Peers6 and may
// pass them in with spare capacity (reset to length 0) to keep announces free of
// allocation; the store appends to them.
type Result struct {
	Counts
	Peers4 []byte
	Peers6 []byte
}

// Stats are store-wide aggregate counts, cheap to read at any time.
type Stats struct {
	Torrents     int // swarms tracked, retained ones included
	Retained     int // swarms without peers, kept for their completed count
	Peers        int
	Seeders      int
	Partial      int
	Peers6       int   // of Peers, those with an IPv6 address; the rest are IPv4
	Seeders6     int   // of Seeders, the IPv6 ones
	Partial6     int   // of Partial, the IPv6 ones
	Active       int   // swarms with at least one seeder and one downloader: data is moving
	Memory       int64 // bytes the store holds
	MemoryBudget int64 // MaxMemory; 0: none

	CapTorrents   uint64 // announces refused by MaxTorrents
	CapPeers      uint64 // announces refused by MaxPeers
	CapSwarm      uint64 // announces refused by MaxPeersPerTorrent
	CapMemory     uint64 // announces refused by MaxMemory
	QuotaTorrents uint64 // announces refused by SourceMaxNewTorrents
	QuotaPeers    uint64 // announces refused by SourceMaxPeers

	Panics uint64 // cleaner steps that panicked, were dropped and logged
}

// CapHits is every announce refused by a cap or a quota.
func (s Stats) CapHits() uint64 {
	return s.CapTorrents + s.CapPeers + s.CapSwarm + s.CapMemory + s.QuotaTorrents + s.QuotaPeers
}

// Errors returned when a cap refuses an announce.
var (
	ErrTooManyTorrents = errors.New("swarm: too many torrents")
	ErrTooManyPeers    = errors.New("swarm: too many peers")
	ErrSwarmFull       = errors.New("swarm: too many peers in this swarm")
	ErrMemoryFull      = errors.New("swarm: memory budget exhausted")
	ErrSourceTorrents  = errors.New("swarm: too many new torrents from one source")
	ErrSourcePeers     = errors.New("swarm: too many peers from one source")
)

// Store is the peer store contract described in the package documentation.
type Store interface {
	Announce(p *Params, r *Result) error
	// Scrape returns the counts of one swarm; an unknown swarm has zero counts.
	Scrape(infoHash [20]byte) Counts
	// Range calls fn for every swarm until it returns false. fn runs with part of the
	// store locked: it must be quick and must not call the store.
	Range(fn func(infoHash [20]byte, c Counts) bool)
	// Expire removes every peer older than the peer timeout, one shard at a time.
	Expire()
	Stats() Stats
	// Reconfigure applies new Opts to the running store without dropping a swarm
	// or a peer; a lowered cap only refuses what would go beyond it. What cannot
	// change while running is left as it was and named in an error wrapping
	// ErrRestart; the rest is applied all the same.
	Reconfigure(o Opts) error
}

// Opts configures a store.
type Opts struct {
	PeerTimeout        time.Duration
	MaxTorrents        int
	MaxPeers           int
	MaxPeersPerTorrent int
	MaxMemory          int64         // bytes; 0: no budget
	Retention          time.Duration // how long an empty swarm keeps its completed count
	// Per-source quotas; 0 turns each off.
	SourceMaxNewTorrents int
	SourceWindow         time.Duration
	SourceMaxPeers       int
}
