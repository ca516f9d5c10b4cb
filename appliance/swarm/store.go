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
//   - Announce with Stopped removes the peer and returns no peers. A swarm left
//     without peers is forgotten, with its completed count.
//   - Completed counts a snatch once: when a peer that the store did not already hold
//     as a seeder announces completion as a seeder.
//   - A peer not heard from for the peer timeout is not returned and is removed by
//     Expire; Expire never holds more than one shard of the store at a time.
//   - Hard caps: a new torrent beyond MaxTorrents, a new peer beyond MaxPeers in all
//     or beyond MaxPeersPerTorrent in its swarm is refused with ErrTooManyTorrents,
//     ErrTooManyPeers or ErrSwarmFull, counted in Stats, and changes nothing; peers
//     already stored keep working. Memory is bounded by the caps whatever clients send.
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
	Torrents    int
	Peers       int
	Seeders     int
	Partial     int
	Active      int    // swarms with at least one seeder and one downloader: data is moving
	CapTorrents uint64 // announces refused by MaxTorrents
	CapPeers    uint64 // announces refused by MaxPeers
	CapSwarm    uint64 // announces refused by MaxPeersPerTorrent
}

// Errors returned when a cap refuses an announce.
var (
	ErrTooManyTorrents = errors.New("swarm: too many torrents")
	ErrTooManyPeers    = errors.New("swarm: too many peers")
	ErrSwarmFull       = errors.New("swarm: too many peers in this swarm")
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
}

// Opts configures a store.
type Opts struct {
	PeerTimeout        time.Duration
	MaxTorrents        int
	MaxPeers           int
	MaxPeersPerTorrent int
}
