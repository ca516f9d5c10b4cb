package udptracker

import (
	"encoding/binary"
	"time"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// Replies must fit one unfragmented datagram on an Ethernet LAN (about 1450 bytes
// of payload under IPv6), which caps the peers an announce reply can carry.
const (
	announceHeaderLen = 20
	maxPeers4         = 200 // 20 + 200×6  = 1220 bytes
	maxPeers6         = 70  // 20 + 70×18 = 1280 bytes
	maxReplyLen       = 1452
)

func appendConnect(dst []byte, txID uint32, connID uint64) []byte {
	dst = binary.BigEndian.AppendUint32(dst, actionConnect)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	return binary.BigEndian.AppendUint64(dst, connID)
}

// appendAnnounce writes the reply with the peers of the requester's family: 6-byte
// peers to an IPv4 client, 18-byte peers to an IPv6 one (BEP 15).
func appendAnnounce(dst []byte, txID uint32, r *tracker.AnnounceResponse, v6 bool) []byte {
	dst = binary.BigEndian.AppendUint32(dst, actionAnnounce)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	dst = binary.BigEndian.AppendUint32(dst, uint32(r.Interval/time.Second))
	dst = binary.BigEndian.AppendUint32(dst, clampU32(r.Incomplete))
	dst = binary.BigEndian.AppendUint32(dst, clampU32(r.Complete))
	if v6 {
		return append(dst, r.Peers6...)
	}
	return append(dst, r.Peers4...)
}

func appendScrape(dst []byte, txID uint32, entries []tracker.ScrapeEntry) []byte {
	dst = binary.BigEndian.AppendUint32(dst, actionScrape)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	for _, e := range entries {
		dst = binary.BigEndian.AppendUint32(dst, clampU32(e.Complete))
		dst = binary.BigEndian.AppendUint32(dst, clampU32(e.Downloaded))
		dst = binary.BigEndian.AppendUint32(dst, clampU32(e.Incomplete))
	}
	return dst
}

// appendError writes an error reply. limit caps the whole reply's length: a reply
// to a packet we cannot authenticate must not be longer than that packet, or the
// tracker would amplify a spoofed flood. The message is cut to fit.
func appendError(dst []byte, txID uint32, msg string, limit int) []byte {
	dst = binary.BigEndian.AppendUint32(dst, actionError)
	dst = binary.BigEndian.AppendUint32(dst, txID)
	if room := limit - 8; len(msg) > room {
		msg = msg[:max(room, 0)]
	}
	return append(dst, msg...)
}

func clampU32(n int) uint32 {
	return uint32(min(max(n, 0), 1<<31-1))
}
