package main

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// BEP 15, big-endian throughout.
const (
	protocolID = 0x41727101980

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	eventNone    = 0
	eventStarted = 2
	eventStopped = 3

	announceLen      = 98
	announceReplyLen = 20 // before the peers
)

func appendConnect(dst []byte, tx uint32) []byte {
	dst = binary.BigEndian.AppendUint64(dst, protocolID)
	dst = binary.BigEndian.AppendUint32(dst, actionConnect)
	return binary.BigEndian.AppendUint32(dst, tx)
}

// announce is what varies between announces; the rest of the packet is fixed.
type announce struct {
	connID  uint64
	tx      uint32
	hash    *[20]byte
	peer    int // the peer's number: its peer id and key
	left    uint64
	event   uint32
	numWant int32
	port    uint16
}

// putAnnounce writes a into p, which must hold announceLen bytes, in place, so that
// the hot path builds packets without allocating.
func putAnnounce(p []byte, a *announce) {
	_ = p[announceLen-1]
	binary.BigEndian.PutUint64(p[0:8], a.connID)
	binary.BigEndian.PutUint32(p[8:12], actionAnnounce)
	binary.BigEndian.PutUint32(p[12:16], a.tx)
	copy(p[16:36], a.hash[:])
	putPeerID(p[36:56], a.peer)
	binary.BigEndian.PutUint64(p[56:64], 0) // downloaded
	binary.BigEndian.PutUint64(p[64:72], a.left)
	binary.BigEndian.PutUint64(p[72:80], 0) // uploaded
	binary.BigEndian.PutUint32(p[80:84], a.event)
	binary.BigEndian.PutUint32(p[84:88], 0) // ip: the source address
	binary.BigEndian.PutUint32(p[88:92], uint32(a.peer))
	binary.BigEndian.PutUint32(p[92:96], uint32(a.numWant))
	binary.BigEndian.PutUint16(p[96:98], a.port)
}

// putPeerID writes "-SW0001-" and the peer's number in 12 decimal digits: stable
// per peer, like a real client's.
func putPeerID(p []byte, n int) {
	copy(p, "-SW0001-")
	for i := 19; i >= 8; i-- {
		p[i] = byte('0' + n%10)
		n /= 10
	}
}

func appendScrape(dst []byte, connID uint64, tx uint32, hashes [][20]byte) []byte {
	dst = binary.BigEndian.AppendUint64(dst, connID)
	dst = binary.BigEndian.AppendUint32(dst, actionScrape)
	dst = binary.BigEndian.AppendUint32(dst, tx)
	for i := range hashes {
		dst = append(dst, hashes[i][:]...)
	}
	return dst
}

// reply is the header every answer starts with.
type reply struct {
	action uint32
	tx     uint32
	body   []byte
}

var errShortReply = errors.New("reply shorter than 8 bytes")

func parseReply(p []byte) (reply, error) {
	if len(p) < 8 {
		return reply{}, errShortReply
	}
	return reply{action: binary.BigEndian.Uint32(p[0:4]), tx: binary.BigEndian.Uint32(p[4:8]), body: p[8:]}, nil
}

// connID reads a connect reply's body.
func (r reply) connID() (uint64, error) {
	if r.action != actionConnect || len(r.body) < 8 {
		return 0, fmt.Errorf("swarmload: not a connect reply (action %d, %d bytes)", r.action, len(r.body)+8)
	}
	return binary.BigEndian.Uint64(r.body[:8]), nil
}

// scrapeCounts is one torrent's line of a scrape reply.
type scrapeCounts struct{ seeders, completed, leechers uint32 }

func (r reply) scrape() ([]scrapeCounts, error) {
	if r.action != actionScrape {
		return nil, fmt.Errorf("swarmload: not a scrape reply (action %d)", r.action)
	}
	out := make([]scrapeCounts, 0, len(r.body)/12)
	for b := r.body; len(b) >= 12; b = b[12:] {
		out = append(out, scrapeCounts{
			seeders:   binary.BigEndian.Uint32(b[0:4]),
			completed: binary.BigEndian.Uint32(b[4:8]),
			leechers:  binary.BigEndian.Uint32(b[8:12]),
		})
	}
	return out, nil
}
