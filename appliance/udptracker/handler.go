package udptracker

import (
	"errors"
	"net/netip"
	"time"

	"github.com/swarmlight/swarmlight/appliance/metrics/requests"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// maxScrape caps the hashes one UDP scrape is answered for; the reply (12 bytes a
// hash) then still fits one datagram.
const maxScrape = 74

// packetLen is what is read of a datagram; no request but a long scrape comes near
// it, and BEP 41 URL data is copied into a buffer of this size.
const packetLen = 2048

// handler answers single packets. Each worker has its own, with scratch space that
// is reused so that a steady stream of packets allocates nothing.
type handler struct {
	s       *Server
	req     tracker.AnnounceRequest
	resp    tracker.AnnounceResponse
	hashes  []tracker.InfoHash
	entries []tracker.ScrapeEntry
	urlBuf  []byte
	result  requests.Result // of the packet being answered: fail sets it
}

func newHandler(s *Server) *handler {
	return &handler{
		s:       s,
		resp:    tracker.AnnounceResponse{Peers4: make([]byte, 0, maxPeers4*6), Peers6: make([]byte, 0, maxPeers6*18)},
		hashes:  make([]tracker.InfoHash, 0, maxScrape),
		entries: make([]tracker.ScrapeEntry, 0, maxScrape),
		urlBuf:  make([]byte, 0, packetLen),
	}
}

// handle appends the reply to pkt, from src, to out, and returns it; an empty
// result means the packet gets no reply.
func (h *handler) handle(pkt []byte, src netip.AddrPort, out []byte) []byte {
	s := h.s
	s.packets.Add(1)
	hd, err := parseHeader(pkt)
	if err != nil {
		s.dropped.Add(1)
		return out
	}
	// The reply goes to src as received, zone and all; everything else sees the
	// address as the HTTP front shows it to the tracker.
	addr := tracker.SourceAddr(src.Addr())
	now := s.clock.Now()
	h.result = requests.OK
	out = h.answer(pkt, hd, addr, now, out)
	// Timed from the clock reading the connection ids need anyway: the one more
	// reading here is all the measurement costs a packet.
	if a, ok := requestAction(hd); ok {
		s.reqs.Observe(a, h.result, s.clock.Now().Sub(now))
	}
	return out
}

// requestAction is what a packet asked for, if it is a request at all: an error
// packet, or a connect without the protocol's magic number, is dropped unanswered,
// and a packet with an action BEP 15 does not define is answered but not counted.
func requestAction(hd header) (requests.Action, bool) {
	switch hd.action {
	case actionConnect:
		return requests.Connect, hd.connID == protocolID
	case actionAnnounce:
		return requests.Announce, true
	case actionScrape:
		return requests.Scrape, true
	}
	return 0, false
}

// answer is handle's reply to a packet whose header parsed, received at now.
func (h *handler) answer(pkt []byte, hd header, addr netip.Addr, now time.Time, out []byte) []byte {
	s := h.s
	switch {
	case hd.action == actionError:
		// Errors are replies, never requests: answering one could bounce between
		// two trackers forever.
		s.dropped.Add(1)
		return out
	case hd.action == actionConnect:
		if hd.connID != protocolID {
			s.dropped.Add(1)
			return out
		}
		if !s.trk.Allowed(addr) {
			s.trk.Refused()
			return h.failLimited(out, hd.txID, tracker.ErrNotAllowed, len(pkt), addr)
		}
		return appendConnect(out, hd.txID, s.ids.issue(now, addr))
	case !s.ids.valid(hd.connID, now, addr):
		// Stale, forged or someone else's: answer no longer than the packet, and
		// touch nothing.
		s.badConnID.Add(1)
		return h.failLimited(out, hd.txID, errBadConnID, len(pkt), addr)
	case hd.action == actionAnnounce:
		return h.announce(pkt, hd.txID, addr, out)
	case hd.action == actionScrape:
		return h.scrape(pkt, hd.txID, addr, out)
	}
	return h.failLimited(out, hd.txID, errUnknownAction, maxReplyLen, addr)
}

// handleReceived is handle for a datagram as the socket gave it. One longer than
// packetLen arrives truncated. A scrape of more than 101 hashes is that long, and
// clients send them; its start holds the 74 hashes it is answered for. Anything
// else that long is no request.
func (h *handler) handleReceived(pkt []byte, truncated bool, src netip.AddrPort, out []byte) []byte {
	if truncated {
		if hd, err := parseHeader(pkt); err != nil || hd.action != actionScrape {
			h.s.packets.Add(1)
			h.s.dropped.Add(1)
			return out
		}
	}
	return h.handle(pkt, src, out)
}

var (
	errBadConnID     = &tracker.Error{Reason: "connection id expired or invalid; connect again"}
	errUnknownAction = &tracker.Error{Reason: "unknown action"}
)

func (h *handler) announce(pkt []byte, txID uint32, addr netip.Addr, out []byte) []byte {
	s := h.s
	if err := parseAnnounce(pkt, &h.req, h.urlBuf); err != nil {
		s.trk.Refused()
		return h.failLimited(out, txID, err, maxReplyLen, addr)
	}
	// The packet's family decides the peer format (BEP 15): an IPv4 packet, even on
	// a dual-stack socket, gets 6-byte IPv4 peers.
	v6 := addr.Is6()
	fams, limit := tracker.IPv4, maxPeers4
	if v6 {
		fams, limit = tracker.IPv6, maxPeers6
	}
	if h.req.NumWant < 0 {
		h.req.NumWant = s.cfg.Load().NumWantDefault
	}
	h.req.NumWant = min(h.req.NumWant, limit)
	if err := s.trk.Announce(addr, &h.req, fams, &h.resp); err != nil {
		return h.fail(out, txID, err, maxReplyLen)
	}
	return appendAnnounce(out, txID, &h.resp, v6)
}

func (h *handler) scrape(pkt []byte, txID uint32, addr netip.Addr, out []byte) []byte {
	s := h.s
	var err error
	h.hashes, err = parseScrape(pkt, h.hashes[:0], s.cfg.Load().ScrapeMax)
	if err != nil {
		s.trk.Refused()
		return h.failLimited(out, txID, err, maxReplyLen, addr)
	}
	// A UDP scrape carries no key: BEP 41 URL data exists only on announces. So in
	// private mode the tracker refuses it, as it refuses an HTTP scrape without one.
	h.entries, err = s.trk.Scrape(addr, nil, h.hashes, h.entries[:0])
	if err != nil {
		return h.fail(out, txID, err, maxReplyLen)
	}
	return appendScrape(out, txID, h.entries)
}

// fail writes an error reply of at most limit bytes. Its message is the failure
// reason, which never holds request data. Refusals are counted by reason for one
// log line per interval (tracker.Refusals), never logged one by one: a flood would
// write a line a packet.
func (h *handler) fail(out []byte, txID uint32, err error, limit int) []byte {
	msg, refusal := reason(err)
	h.result = requests.Error
	if refusal {
		h.result = requests.Refused
	}
	h.s.trk.Refusals().Add("udp", msg)
	h.s.errors.Add(1)
	return appendError(out, txID, msg, limit)
}

// failLimited is fail for what a client that behaves draws rarely or never: a bad
// connection id, a refused connect, a malformed request. Past src's share of error
// replies (limit.go) the refusal is counted and not answered. The tracker's own
// refusals of a well-formed request with a valid id (caps, quotas) go through fail,
// unlimited like its other answers: their sender has shown that it receives what
// is sent to its address, and the reply tells it why it was turned away.
func (h *handler) failLimited(out []byte, txID uint32, err error, limit int, src netip.Addr) []byte {
	if !h.s.limiter.allow(src, h.s.clock.Now()) {
		msg, _ := reason(err)
		h.result = requests.Refused
		h.s.trk.Refusals().Add("udp", msg)
		h.s.limited.Add(1)
		return out
	}
	return h.fail(out, txID, err, limit)
}

// reason is err's failure reason, and whether err is a refusal (a *tracker.Error)
// rather than an internal error. Every refusal here is a *tracker.Error as it
// is: errors.As alone would cost a forged packet a heap allocation (its target
// escapes), so it is left for what comes wrapped.
func reason(err error) (msg string, refusal bool) {
	if te, ok := err.(*tracker.Error); ok {
		return te.Reason, true
	}
	var te *tracker.Error
	if errors.As(err, &te) {
		return te.Reason, true
	}
	return "internal error", false
}
