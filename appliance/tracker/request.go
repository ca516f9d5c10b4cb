package tracker

import (
	"net/netip"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/swarm"
)

// InfoHash is the opaque 20-byte torrent key: a v1 SHA-1, or a v2 SHA-256 truncated
// to 20 bytes (BEP 52). The tracker never interprets it.
type InfoHash [20]byte

// PeerID is the client's self-chosen 20-byte id. It is parsed and validated but never
// stored: compact replies do not carry it.
type PeerID [20]byte

// Event is an announce event, numbered as on the UDP wire (BEP 15), with libtorrent's
// paused (BEP 21) as 4.
type Event uint8

// Announce events.
const (
	EventNone      Event = 0
	EventCompleted Event = 1
	EventStarted   Event = 2
	EventStopped   Event = 3
	EventPaused    Event = 4
)

// ParseEvent maps the HTTP event name to an Event. Unknown names are a plain
// announce, never an error: clients invent events and trackers that reject them
// break those clients.
func ParseEvent(s string) Event {
	switch s {
	case "completed":
		return EventCompleted
	case "started":
		return EventStarted
	case "stopped":
		return EventStopped
	case "paused":
		return EventPaused
	}
	return EventNone
}

// AnnounceRequest is one announce, whatever front it came in on. Fronts fill it from
// the wire; the tracker decides which address the peer is stored under.
type AnnounceRequest struct {
	InfoHash   InfoHash
	PeerID     PeerID
	Port       uint16     // the peer's listening port; never 0 after parsing
	IP         netip.Addr // address the client claims (ip=, ipv4=, ipv6=, UDP ip field); used only when allowed
	Uploaded   int64
	Downloaded int64
	Left       int64
	Event      Event
	NumWant    int // < 0: the configured default
	Key        uint32
	HasKey     bool
	Passkey    access.Key // the member's passkey (private mode); empty when none or malformed
}

// AnnounceResponse is what a front turns into its wire reply. Peers4 and Peers6 are
// compact peers (6 and 18 bytes each); the caller owns and reuses their storage.
type AnnounceResponse struct {
	Interval    time.Duration
	MinInterval time.Duration
	Complete    int // seeders
	Incomplete  int // leechers, partial seeds included
	Downloaded  int // completed (snatch) count
	Downloaders int // incomplete minus partial seeds (BEP 21)
	Peers4      []byte
	Peers6      []byte
	ExternalIP  netip.Addr // the requester's address as seen (BEP 24)

	// The store call's arguments live here, in memory the front owns and reuses:
	// as locals they would escape through the Store interface, one allocation each
	// per announce.
	params swarm.Params
	result swarm.Result
}

// ScrapeEntry is the scrape result for one info-hash.
type ScrapeEntry struct {
	InfoHash    InfoHash
	Complete    int
	Incomplete  int
	Downloaded  int
	Downloaders int
}

// Error is a tracker failure that a front reports to the client as a failure reason
// (HTTP) or an error packet (UDP). Its text never contains peer data.
type Error struct {
	Reason string
	// RetryIn is how long the client should wait before trying again (BEP 31);
	// negative means never, zero means unspecified.
	RetryIn time.Duration
}

func (e *Error) Error() string { return e.Reason }

// Failure reasons shared by every front.
var (
	ErrNotAllowed = &Error{Reason: "your network is not allowed to use this tracker", RetryIn: -1}
	ErrFullScrape = &Error{Reason: "full scrape is disabled on this tracker", RetryIn: -1}

	// The access refusals (access.Control). Asking again cannot change the answer
	// until the operator does, so each says never.
	ErrNotTracked = &Error{Reason: access.ErrNotTracked.Error(), RetryIn: -1}
	ErrKey        = &Error{Reason: access.ErrKey.Error(), RetryIn: -1}
	ErrClient     = &Error{Reason: access.ErrClient.Error(), RetryIn: -1}
)
