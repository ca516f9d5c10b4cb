package udptracker

import (
	"encoding/binary"
	"errors"
	"math"
	"net/netip"
	"unsafe"

	"github.com/swarmlight/swarmlight/appliance/query"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// BEP 15 wire constants. All integers are big-endian.
const (
	protocolID = 0x41727101980

	actionConnect  = 0
	actionAnnounce = 1
	actionScrape   = 2
	actionError    = 3

	headerLen   = 16 // connection id (or protocol id), action, transaction id
	announceLen = 98 // the fixed part; BEP 41 options follow
	hashLen     = 20
)

// BEP 41 option types. Every type from 2 up carries a length byte.
const (
	optEnd     = 0
	optNop     = 1
	optURLData = 2
)

// Parse failures. Like the HTTP front's, they never carry request data.
var (
	errShort         = errors.New("packet too short")
	errProtocolID    = errors.New("not a BitTorrent UDP tracker connect")
	errAnnounceShort = &tracker.Error{Reason: "malformed announce: too short"}
	errBadOption     = &tracker.Error{Reason: "malformed announce: bad BEP 41 option"}
	errURLDataLong   = &tracker.Error{Reason: "malformed announce: URL data too long"}
	errInvalidPort   = &tracker.Error{Reason: "invalid port"}
	errScrapeEmpty   = &tracker.Error{Reason: "scrape names no info-hash"}
)

// header is the first 16 bytes of every request.
type header struct {
	connID uint64 // the protocol id in a connect request
	action uint32
	txID   uint32
}

func parseHeader(p []byte) (header, error) {
	if len(p) < headerLen {
		return header{}, errShort
	}
	return header{
		connID: binary.BigEndian.Uint64(p[0:8]),
		action: binary.BigEndian.Uint32(p[8:12]),
		txID:   binary.BigEndian.Uint32(p[12:16]),
	}, nil
}

// parseAnnounce reads an announce request (BEP 15) and its BEP 41 options into
// req. urlBuf is scratch space for the URL data, at least as long as p, so that
// parsing allocates nothing.
func parseAnnounce(p []byte, req *tracker.AnnounceRequest, urlBuf []byte) error {
	*req = tracker.AnnounceRequest{}
	if len(p) < announceLen {
		return errAnnounceShort
	}
	copy(req.InfoHash[:], p[16:36])
	copy(req.PeerID[:], p[36:56])
	req.Downloaded = max(int64(binary.BigEndian.Uint64(p[56:64])), 0)
	// libtorrent sends left = -1 while it does not know the torrent's size (a magnet
	// link before its metadata arrives): a leecher, however much it lacks.
	req.Left = int64(binary.BigEndian.Uint64(p[64:72]))
	if req.Left < 0 {
		req.Left = math.MaxInt64
	}
	req.Uploaded = max(int64(binary.BigEndian.Uint64(p[72:80])), 0)
	req.Event = event(binary.BigEndian.Uint32(p[80:84]))
	if ip := binary.BigEndian.Uint32(p[84:88]); ip != 0 {
		req.IP = netip.AddrFrom4([4]byte(p[84:88]))
	}
	req.Key, req.HasKey = binary.BigEndian.Uint32(p[88:92]), true
	// num_want is signed: -1, and any other negative, asks for the default.
	req.NumWant = int(int32(binary.BigEndian.Uint32(p[92:96])))
	req.NumWant = max(req.NumWant, -1)
	req.Port = binary.BigEndian.Uint16(p[96:98])
	if req.Port == 0 {
		return errInvalidPort
	}

	data, err := urlData(p[announceLen:], urlBuf[:0])
	if err != nil || len(data) == 0 {
		return err
	}
	// The URL data is read as the query an HTTP announce would carry, so a
	// parameter means the same over both fronts; the passkey of a private
	// tracker's udp://box:6969/KEY/announce arrives in its path. It lives in urlBuf only for this
	// call, so a string view of it need not be a copy.
	return query.ParseURLData(unsafe.String(&data[0], len(data)), req)
}

// urlData walks the BEP 41 options and returns the concatenated URL data. A
// truncated option is an error; unknown types are skipped by their length.
func urlData(opts []byte, dst []byte) ([]byte, error) {
	for i := 0; i < len(opts); {
		switch opts[i] {
		case optEnd:
			return dst, nil
		case optNop:
			i++
			continue
		}
		if i+1 >= len(opts) {
			return nil, errBadOption
		}
		typ, n := opts[i], int(opts[i+1])
		if i+2+n > len(opts) {
			return nil, errBadOption
		}
		if typ == optURLData {
			if len(dst)+n > cap(dst) {
				return nil, errURLDataLong
			}
			dst = append(dst, opts[i+2:i+2+n]...)
		}
		i += 2 + n
	}
	return dst, nil
}

// event maps the wire event; unknown values are a plain announce, as over HTTP.
func event(v uint32) tracker.Event {
	if v <= uint32(tracker.EventPaused) {
		return tracker.Event(v)
	}
	return tracker.EventNone
}

// parseScrape appends the info-hashes of a scrape request to dst, at most max of
// them; a longer list is cut to max, as the reply could not carry more anyway.
// Trailing bytes short of a whole hash are ignored, like any trailing bytes.
func parseScrape(p []byte, dst []tracker.InfoHash, max int) ([]tracker.InfoHash, error) {
	body := p[headerLen:]
	if len(body) < hashLen {
		return dst, errScrapeEmpty
	}
	for ; len(body) >= hashLen && max > 0; body, max = body[hashLen:], max-1 {
		dst = append(dst, tracker.InfoHash(body[:hashLen]))
	}
	return dst, nil
}
