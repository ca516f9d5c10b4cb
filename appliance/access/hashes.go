package access

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
)

// maxLine bounds one line of a list file; a magnet link with many trackers fits.
const maxLine = 64 << 10

// errNotHash is what every bad line of a list says: the line's text is never
// repeated, since it may hold an info-hash.
var errNotHash = errors.New("not an info-hash: want 40 hex digits, 32 base32 characters or a magnet link")

// Hashes is an immutable set of info-hashes, built for a million entries on a
// small board. The first two bytes of a hash pick one of 65536 buckets; a bucket
// is a sorted run of the other 18 bytes. Nothing in it is a pointer, so the
// garbage collector never scans it, and a lookup is two index reads and a binary
// search over a handful of entries. The nil *Hashes is the empty set.
type Hashes struct {
	start []uint32   // bucket b is tail[start[b]:start[b+1]]; 65537 entries
	tail  [][18]byte // bytes 2..19 of each hash, sorted within a bucket
}

// NewHashes builds the set of hs; duplicates are kept once.
func NewHashes(hs [][20]byte) *Hashes {
	if len(hs) == 0 {
		return &Hashes{}
	}
	// A counting sort on the bucket, then a sort within each small bucket: far
	// fewer comparisons than sorting a million hashes whole.
	start := make([]uint32, 65537)
	for i := range hs {
		start[bucket(&hs[i])+1]++
	}
	sumBuckets(start)
	tail := make([][18]byte, len(hs))
	next := slices.Clone(start[:65536])
	for i := range hs {
		b := bucket(&hs[i])
		copy(tail[next[b]][:], hs[i][2:])
		next[b]++
	}
	return finish(start, tail)
}

// sumBuckets turns counts (bucket b's in start[b+1]) into where each bucket starts.
func sumBuckets(start []uint32) {
	for b := 1; b < len(start); b++ {
		start[b] += start[b-1]
	}
}

// finish sorts each bucket of tail and drops duplicates, compacting in place.
func finish(start []uint32, tail [][18]byte) *Hashes {
	w := uint32(0)
	for b := 0; b < 65536; b++ {
		run := tail[start[b]:start[b+1]]
		slices.SortFunc(run, func(x, y [18]byte) int { return bytes.Compare(x[:], y[:]) })
		start[b] = w
		for i := range run {
			if i > 0 && run[i] == run[i-1] {
				continue
			}
			tail[w] = run[i]
			w++
		}
	}
	start[65536] = w
	return &Hashes{start: start, tail: slices.Clip(tail[:w])}
}

func bucket(h *[20]byte) int { return int(h[0])<<8 | int(h[1]) }

// Has reports whether h is in the set. It allocates nothing.
func (s *Hashes) Has(h *[20]byte) bool {
	if s == nil || len(s.tail) == 0 {
		return false
	}
	b := bucket(h)
	run := s.tail[s.start[b]:s.start[b+1]]
	lo, hi := 0, len(run)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		switch c := bytes.Compare(run[m][:], h[2:]); {
		case c == 0:
			return true
		case c < 0:
			lo = m + 1
		default:
			hi = m
		}
	}
	return false
}

// Len is the number of distinct hashes.
func (s *Hashes) Len() int {
	if s == nil {
		return 0
	}
	return len(s.tail)
}

// Bytes is the memory the set holds.
func (s *Hashes) Bytes() int {
	if s == nil {
		return 0
	}
	return 4*cap(s.start) + 18*cap(s.tail)
}

// LineError is a bad line of a list or key file. It names the file and the line
// number, never the line's text.
type LineError struct {
	Path string
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("%s line %d: %v", e.Path, e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// LoadHashes reads a list file (see ParseHashes). It reads the file twice, first
// to size each bucket and then to fill it, so that loading a million hashes never
// holds more than the finished set: the service runs under a 64 MiB GOMEMLIMIT, and
// the list in use stays in memory until the new one replaces it.
func LoadHashes(path string) (*Hashes, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	start := make([]uint32, 65537)
	var buf [][20]byte
	err = eachLine(f, path, func(line []byte) error {
		var err error
		buf, err = appendHashes(buf[:0], line)
		for i := range buf {
			start[bucket(&buf[i])+1]++
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	sumBuckets(start)
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tail := make([][18]byte, start[65536])
	next := slices.Clone(start[:65536])
	err = eachLine(f, path, func(line []byte) error {
		var err error
		buf, err = appendHashes(buf[:0], line)
		for i := range buf {
			b := bucket(&buf[i])
			if next[b] == start[b+1] {
				return errChanged
			}
			copy(tail[next[b]][:], buf[i][2:])
			next[b]++
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	for b := range next {
		if next[b] != start[b+1] {
			return nil, fmt.Errorf("%s: %w", path, errChanged)
		}
	}
	return finish(start, tail), nil
}

// errChanged is a file rewritten in place while it was read; the watcher reads it
// again once the writer is done.
var errChanged = errors.New("the file changed while it was read")

// eachLine calls fn with each line of r, less its comment and surrounding space,
// skipping blank ones. An error from fn, or a line too long, stops it with a
// *LineError for path.
func eachLine(r io.Reader, path string, fn func(line []byte) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	n := 0
	for sc.Scan() {
		n++
		line := stripComment(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return &LineError{Path: path, Line: n, Err: err}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return &LineError{Path: path, Line: n + 1, Err: fmt.Errorf("longer than %d bytes", maxLine)}
		}
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func stripComment(line []byte) []byte {
	if i := bytes.IndexByte(line, '#'); i >= 0 {
		line = line[:i]
	}
	return bytes.TrimSpace(line)
}

// ParseHashes reads the info-hashes of one list-file line, already stripped of its
// comment: 40 hex digits or 32 base32 characters (RFC 4648), either case, or a
// magnet link; what follows the hash is ignored, as opentracker and aquatic do. A
// magnet link gives its v1 hash (urn:btih:) and the truncated v2 hash (urn:btmh:),
// each it carries.
func ParseHashes(line string) ([][20]byte, error) {
	return appendHashes(nil, stripComment([]byte(line)))
}

func appendHashes(hs [][20]byte, line []byte) ([][20]byte, error) {
	if len(line) > 7 && strings.EqualFold(string(line[:7]), "magnet:") {
		end := bytes.IndexAny(line, " \t")
		if end < 0 {
			end = len(line)
		}
		return appendMagnet(hs, string(line[:end]))
	}
	// The hash is the leading run of letters and digits: "HASH name", "HASH,name".
	n := 0
	for n < len(line) && isAlnum(line[n]) {
		n++
	}
	var h [20]byte
	if !decodeHash(&h, line[:n]) {
		return hs, errNotHash
	}
	return append(hs, h), nil
}

// appendMagnet adds the hashes a magnet link names.
func appendMagnet(hs [][20]byte, link string) ([][20]byte, error) {
	_, query, _ := strings.Cut(link, "?")
	found := false
	for part := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(part, "=")
		if !strings.EqualFold(k, "xt") && !strings.HasPrefix(strings.ToLower(k), "xt.") {
			continue
		}
		v, err := url.QueryUnescape(v)
		if err != nil {
			return hs, errNotHash
		}
		var h [20]byte
		switch lv := strings.ToLower(v); {
		case strings.HasPrefix(lv, "urn:btih:"):
			if !decodeHash(&h, []byte(v[len("urn:btih:"):])) {
				return hs, errNotHash
			}
		case strings.HasPrefix(lv, "urn:btmh:"):
			// A multihash: 0x12 (SHA-256), 0x20 (32 bytes), the digest. Trackers
			// see its first 20 bytes (BEP 52).
			mh := lv[len("urn:btmh:"):]
			var full [34]byte
			if len(mh) != 68 || !strings.HasPrefix(mh, "1220") {
				return hs, errNotHash
			}
			if _, err := hex.Decode(full[:], []byte(mh)); err != nil {
				return hs, errNotHash
			}
			copy(h[:], full[2:])
		default:
			continue
		}
		hs, found = append(hs, h), true
	}
	if !found {
		return hs, errNotHash
	}
	return hs, nil
}

// decodeHash reads 40 hex digits or 32 base32 characters into h.
func decodeHash(h *[20]byte, s []byte) bool {
	switch len(s) {
	case 40:
		_, err := hex.Decode(h[:], s)
		return err == nil
	case 32:
		// base32 without the encoding package: it wants upper case only.
		var acc uint64
		bits, o := 0, 0
		for _, c := range s {
			var v byte
			switch {
			case c >= 'A' && c <= 'Z':
				v = c - 'A'
			case c >= 'a' && c <= 'z':
				v = c - 'a'
			case c >= '2' && c <= '7':
				v = c - '2' + 26
			default:
				return false
			}
			acc = acc<<5 | uint64(v)
			bits += 5
			if bits >= 8 {
				bits -= 8
				h[o] = byte(acc >> bits)
				o++
			}
		}
		return true
	}
	return false
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}
