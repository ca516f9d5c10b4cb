// Package query reads announce and scrape query parameters — the query string of an
// HTTP announce, and the URL data a udp:// announce carries in BEP 41 options — so
// that both fronts understand the same parameters the same way.
package query

import (
	"math"
	"net/netip"
	"strconv"
	"strings"
	"unsafe"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// MaxLen bounds the raw query we are willing to scan. A full 74-hash scrape
// with every byte escaped is about 5 KiB; anything much larger is not a client.
const MaxLen = 8192

// Parse failures. They are shared values so that rejecting a request costs no
// allocation; callers must treat them as read-only. None of them carries any part
// of the request: the query holds hashes, peer ids and addresses, which must not
// end up in a reply or a log line.
var (
	errQueryTooLong     = &tracker.Error{Reason: "query too long"}
	errBadEscape        = &tracker.Error{Reason: "invalid percent-encoding in query"}
	errMissingInfoHash  = &tracker.Error{Reason: "missing info_hash"}
	errInfoHashLen      = &tracker.Error{Reason: "info_hash must be 20 bytes"}
	errRepeatedInfoHash = &tracker.Error{Reason: "info_hash given more than once"}
	errMissingPeerID    = &tracker.Error{Reason: "missing peer_id"}
	errPeerIDLen        = &tracker.Error{Reason: "peer_id must be 20 bytes"}
	errMissingPort      = &tracker.Error{Reason: "missing port"}
	errInvalidPort      = &tracker.Error{Reason: "invalid port"}
	errMissingLeft      = &tracker.Error{Reason: "missing left"}
	errInvalidLeft      = &tracker.Error{Reason: "invalid left"}
	errNegativeLeft     = &tracker.Error{Reason: "negative left"}
	errInvalidUploaded  = &tracker.Error{Reason: "invalid uploaded"}
	errNegativeUploaded = &tracker.Error{Reason: "negative uploaded"}
	errInvalidDownload  = &tracker.Error{Reason: "invalid downloaded"}
	errNegativeDownload = &tracker.Error{Reason: "negative downloaded"}
	errInvalidNumWant   = &tracker.Error{Reason: "invalid numwant"}
	errNegativeNumWant  = &tracker.Error{Reason: "negative numwant"}
)

// counterErrors are the two ways a byte counter can be wrong, per parameter, so
// that one parse routine serves uploaded, downloaded and left.
type counterErrors struct{ invalid, negative *tracker.Error }

var (
	leftErrors       = counterErrors{errInvalidLeft, errNegativeLeft}
	uploadedErrors   = counterErrors{errInvalidUploaded, errNegativeUploaded}
	downloadedErrors = counterErrors{errInvalidDownload, errNegativeDownload}
)

// ParseAnnounce parses r.URL.RawQuery of GET /announce into req.
//
// It runs on every announce, so it works on the raw query in place: values are
// percent-decoded straight into req's fixed arrays and numbers are read digit by
// digit, and the common request (no ip parameter) allocates nothing. Only the
// parameters the tracker uses are decoded; the rest (compact, no_peer_id,
// supportcrypto, trackerid, and anything a client invents) are skipped unread so
// that their contents can never fail an announce. A repeated parameter other than
// info_hash is validated each time and the last one wins, as with a map-based
// parser; only the address takes the first usable value. A passkey= value goes to
// req.Passkey; a malformed one leaves it empty instead of failing the announce
// (see setPasskey), and a key in the URL's path, which the caller reads, wins.
func ParseAnnounce(rawQuery string, req *tracker.AnnounceRequest) error {
	*req = tracker.AnnounceRequest{NumWant: -1}
	if len(rawQuery) > MaxLen {
		return errQueryTooLong
	}

	var haveHash, havePeerID, havePort, haveLeft bool
	for q := rawQuery; q != ""; {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		if seg == "" {
			continue
		}
		name, value, _ := strings.Cut(seg, "=")
		var err error
		switch name {
		case "info_hash":
			// Two hashes in one announce would make the peer's swarm ambiguous, so
			// this is refused rather than resolved by "last wins".
			if haveHash {
				return errRepeatedInfoHash
			}
			haveHash = true
			err = decodeFixed(req.InfoHash[:], value, errInfoHashLen)
		case "peer_id":
			havePeerID = true
			err = decodeFixed(req.PeerID[:], value, errPeerIDLen)
		case "port":
			havePort = true
			req.Port, err = parsePort(value)
		case "left":
			haveLeft = true
			req.Left, err = parseCounter(value, leftErrors)
		case "uploaded":
			req.Uploaded, err = parseCounter(value, uploadedErrors)
		case "downloaded":
			req.Downloaded, err = parseCounter(value, downloadedErrors)
		case "numwant":
			req.NumWant, err = parseNumWant(value)
		case "event":
			req.Event, err = parseEvent(value)
		case "key":
			req.Key, err = hashKey(value)
			req.HasKey = true
		case "passkey":
			setPasskey(&req.Passkey, value)
		case "ip", "ipv4", "ipv6":
			// BEP 7 lets a client send ip, ipv4 and ipv6 together (the anacrolix
			// client sends ipv4 and repeats it as ip); taking the first usable one
			// means a hostname in ip= does not hide a literal in ipv4=.
			if !req.IP.IsValid() {
				req.IP = parseIP(value)
			}
		}
		if err != nil {
			return err
		}
	}

	switch {
	case !haveHash:
		return errMissingInfoHash
	case !havePeerID:
		return errMissingPeerID
	case !havePort:
		return errMissingPort
	case !haveLeft:
		return errMissingLeft
	}
	return nil
}

// ParseURLData applies the URL data of a UDP announce (BEP 41: the path and query of
// the udp:// URL, e.g. "/announce?ipv6=fd00::7") to req, which already holds the
// binary announce. The query goes through the same decoder as an HTTP announce, so a
// malformed one rejects the announce just as it would over HTTP. The binary layout
// already carries hash, peer id, port, counters, event, key and numwant; of the
// parameters it lacks, the claimed address (ip, ipv4, ipv6) applies, and the
// tracker still ignores it unless configured otherwise. The passkey comes from a
// path of the form /KEY/announce, as in the HTTP URL, or else from passkey=.
func ParseURLData(data string, req *tracker.AnnounceRequest) error {
	if len(data) > MaxLen {
		return errQueryTooLong
	}
	path, rawQuery, _ := strings.Cut(data, "?")
	key, inPath := PathKey(path, "announce")
	if inPath {
		setPasskey(&req.Passkey, key)
	}
	for q := rawQuery; q != ""; {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		name, value, _ := strings.Cut(seg, "=")
		if _, err := decodeInto(nil, value); err != nil {
			return err
		}
		switch name {
		case "ip", "ipv4", "ipv6":
			if !req.IP.IsValid() {
				req.IP = parseIP(value)
			}
		case "passkey":
			// A key in the path wins, as over HTTP.
			if !inPath {
				setPasskey(&req.Passkey, value)
			}
		}
	}
	return nil
}

// PathKey returns KEY when path is /KEY/endpoint, KEY being one non-empty segment:
// the form of a member's announce and scrape URLs in private mode. It does not
// check the key; an unusable one is refused by the access check like a wrong one.
func PathKey(path, endpoint string) (key string, ok bool) {
	rest, ok := strings.CutPrefix(path, "/")
	if !ok {
		return "", false
	}
	key, rest, ok = strings.Cut(rest, "/")
	if !ok || key == "" || rest != endpoint {
		return "", false
	}
	return key, true
}

// setPasskey stores the query-encoded s as k. A key is letters and digits, so a
// client has no reason to escape it, but one that does means the same key. A
// value that is no usable key (a bad escape, too long, other characters) leaves k
// empty rather than failing the request: in private mode it is refused as a
// missing key, and otherwise a stray passkey= must not cost a client its peers.
//
// k is zeroed first, so that a key compares equal to the same key parsed anywhere
// else, and no byte of an earlier, longer key stays behind in reused memory.
func setPasskey(k *access.Key, s string) {
	*k = access.Key{}
	if strings.IndexAny(s, "%+") < 0 {
		k.Set(s)
		return
	}
	var buf [access.MaxKeyLen]byte
	n, err := decodeInto(buf[:], s)
	if err != nil || n == 0 || n > len(buf) {
		return
	}
	// Set copies what it keeps, so a view of the stack buffer serves and the
	// decoded key is never copied to the heap.
	k.Set(unsafe.String(&buf[0], n))
}

// ParseScrape appends each info_hash in rawQuery to dst; more than max values is
// an error. A query without any info_hash returns dst unchanged and no error: the
// caller decides whether a full scrape is allowed. On error dst is returned with
// its original length so the caller can reuse its storage. The passkey= value, if
// any, is stored in key (empty when none or unusable), as ParseAnnounce does.
func ParseScrape(rawQuery string, dst []tracker.InfoHash, max int, key *access.Key) ([]tracker.InfoHash, error) {
	*key = access.Key{}
	if len(rawQuery) > MaxLen {
		return dst, errQueryTooLong
	}
	start := len(dst)
	for q := rawQuery; q != ""; {
		var seg string
		seg, q, _ = strings.Cut(q, "&")
		name, value, _ := strings.Cut(seg, "=")
		if name == "passkey" {
			setPasskey(key, value)
			continue
		}
		if name != "info_hash" {
			continue
		}
		if len(dst)-start >= max {
			return dst[:start], tooManyHashes(max)
		}
		var h tracker.InfoHash
		if err := decodeFixed(h[:], value, errInfoHashLen); err != nil {
			return dst[:start], err
		}
		dst = append(dst, h)
	}
	return dst, nil
}

// tooManyHashes names the limit so a client can split its scrape; the limit is
// configuration, not peer data, so it may appear in the reply.
func tooManyHashes(max int) *tracker.Error {
	return &tracker.Error{Reason: "too many info_hash values (max " + strconv.Itoa(max) + ")"}
}

// unhex returns the value of the hex digit c.
func unhex(c byte) (byte, bool) {
	switch {
	case '0' <= c && c <= '9':
		return c - '0', true
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10, true
	case 'A' <= c && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// nextByte decodes the query-encoded byte starting at s[i] and returns it with the
// index just past its encoding. ok is false for a truncated or non-hex %-escape.
// It is the single decoder every value goes through, so all parameters agree on
// what '+' and '%' mean (the same as url.QueryUnescape).
func nextByte(s string, i int) (c byte, next int, ok bool) {
	c = s[i]
	if c == '%' {
		return unescapeAt(s, i)
	}
	if c == '+' {
		c = ' '
	}
	return c, i + 1, true
}

// unescapeAt decodes the %-escape at s[i].
func unescapeAt(s string, i int) (byte, int, bool) {
	if i+2 >= len(s) {
		return 0, i, false
	}
	hi, ok1 := unhex(s[i+1])
	lo, ok2 := unhex(s[i+2])
	if !ok1 || !ok2 {
		return 0, i, false
	}
	return hi<<4 | lo, i + 3, true
}

// decodeFixed percent-decodes s into dst, which it must fill exactly. Bytes past
// len(dst) are decoded (so a bad escape is still reported as one) but not stored.
func decodeFixed(dst []byte, s string, errLen *tracker.Error) error {
	n, err := decodeInto(dst, s)
	if err != nil {
		return err
	}
	if n != len(dst) {
		return errLen
	}
	return nil
}

// decodeInto percent-decodes s into dst and returns the decoded length, which may
// exceed len(dst): the excess is counted, not written, so callers can reject an
// oversized value without a second pass or a heap buffer.
func decodeInto(dst []byte, s string) (int, error) {
	n := 0
	for i := 0; i < len(s); {
		c, next, ok := nextByte(s, i)
		if !ok {
			return n, errBadEscape
		}
		if n < len(dst) {
			dst[n] = c
		}
		n++
		i = next
	}
	return n, nil
}

// numStatus is the outcome of parseDecimal; callers map it to their own errors.
type numStatus uint8

const (
	numOK numStatus = iota
	numInvalid
	numNegative
	numOverflow
	numBadEscape
)

// parseDecimal reads an optionally '-'-signed run of decimal digits from the
// query-encoded s. Values above limit report numOverflow and saturate at limit;
// digits are still checked to the end so that "99…9x" is invalid, not merely big.
// "-0" is zero, not negative: it is a sign with nothing to be negative about.
func parseDecimal(s string, limit uint64) (uint64, numStatus) {
	var (
		v        uint64
		neg      bool
		digits   int
		overflow bool
	)
	for i := 0; i < len(s); {
		c, next, ok := nextByte(s, i)
		if !ok {
			return 0, numBadEscape
		}
		switch {
		case c == '-' && i == 0:
			neg = true
		case '0' <= c && c <= '9':
			digits++
			d := uint64(c - '0')
			if !overflow && v <= (limit-d)/10 {
				v = v*10 + d
			} else {
				overflow = true
			}
		default:
			return 0, numInvalid
		}
		i = next
	}
	switch {
	case digits == 0:
		return 0, numInvalid
	case neg && (v != 0 || overflow):
		return 0, numNegative
	case overflow:
		return limit, numOverflow
	}
	return v, numOK
}

// parsePort accepts 1..65535: port 0 cannot be connected to, so storing it would
// hand other peers a useless entry.
func parsePort(s string) (uint16, error) {
	v, st := parseDecimal(s, math.MaxUint16)
	switch {
	case st == numBadEscape:
		return 0, errBadEscape
	case st != numOK || v == 0:
		return 0, errInvalidPort
	}
	return uint16(v), nil
}

// parseCounter accepts any int64 >= 0. math.MaxInt64 must pass: the anacrolix
// client sends it as left when it does not know the torrent's size yet.
func parseCounter(s string, errs counterErrors) (int64, error) {
	v, st := parseDecimal(s, math.MaxInt64)
	switch st {
	case numOK:
		return int64(v), nil
	case numBadEscape:
		return 0, errBadEscape
	case numNegative:
		return 0, errs.negative
	}
	return 0, errs.invalid
}

// parseNumWant clamps rather than rejects a huge numwant: asking for "all peers"
// is a legitimate wish, and the tracker caps it to its own limit anyway.
func parseNumWant(s string) (int, error) {
	v, st := parseDecimal(s, math.MaxInt)
	switch st {
	case numOK, numOverflow:
		return int(v), nil
	case numBadEscape:
		return 0, errBadEscape
	case numNegative:
		return 0, errNegativeNumWant
	}
	return 0, errInvalidNumWant
}

// parseEvent maps the event value without allocating. Every known event name is
// short, so a value that does not fit the buffer is simply unknown: a plain
// announce, as tracker.ParseEvent decides for any unknown name.
func parseEvent(s string) (tracker.Event, error) {
	if strings.IndexAny(s, "%+") < 0 {
		return tracker.ParseEvent(s), nil
	}
	var buf [16]byte
	n, err := decodeInto(buf[:], s)
	if err != nil {
		return tracker.EventNone, err
	}
	if n > len(buf) {
		return tracker.EventNone, nil
	}
	return tracker.ParseEvent(string(buf[:n])), nil
}

// hashKey reduces the key to 32 bits with FNV-1a over its decoded bytes. Clients
// disagree on its form (hex, signed decimal, arbitrary text), so the tracker only
// compares keys for equality and any stable hash of the bytes serves.
func hashKey(s string) (uint32, error) {
	const (
		offset32 = 2166136261
		prime32  = 16777619
	)
	h := uint32(offset32)
	for i := 0; i < len(s); {
		c, next, ok := nextByte(s, i)
		if !ok {
			return 0, errBadEscape
		}
		h ^= uint32(c)
		h *= prime32
		i = next
	}
	return h, nil
}

// parseIP returns the address in s, or the zero Addr when there is none. It never
// fails the announce: the tracker uses a claimed address only when configured to,
// so a junk value (a hostname, a bad escape) must not cost the client its peers.
// Zoned addresses are dropped because a zone names an interface on the client's
// host and means nothing to other peers.
func parseIP(s string) netip.Addr {
	var (
		addr netip.Addr
		err  error
	)
	if strings.IndexAny(s, "%+") < 0 {
		addr, err = netip.ParseAddr(s)
	} else {
		// 45 bytes is the longest IPv6 text form without a zone.
		var buf [48]byte
		n, derr := decodeInto(buf[:], s)
		if derr != nil || n > len(buf) {
			return netip.Addr{}
		}
		addr, err = netip.ParseAddr(string(buf[:n]))
	}
	if err != nil || addr.Zone() != "" {
		return netip.Addr{}
	}
	return addr.Unmap()
}
