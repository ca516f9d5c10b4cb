// Package privacytest spells out the ways a peer's data could show up in what the
// tracker writes, for the tests that promise it never does: log lines, crash and
// watchdog output. Like swarm/swarmtest it is an ordinary package, not an
// internal one, so that both the in-process tests of appliance and the
// real-binary tests of cmd/swarmlight can share it.
package privacytest

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
)

// minWordDigits is the fewest significant hex digits a word form must have to be
// looked for: a window whose high bytes are zero prints short ("0x4d0a"), and
// such a short string turns up in any output by chance.
const minWordDigits = 6

// Encodings are the ways a value (an info-hash, a peer id) could end up in text:
// as it is, escaped, in hex and base64, and as the machine words a Go traceback
// prints (see Words).
func Encodings(v []byte) []string {
	s := string(v)
	enc := []string{
		s,
		hex.EncodeToString(v),
		url.QueryEscape(s),
		url.PathEscape(s),
		fmt.Sprintf("%q", s),
		fmt.Sprintf("%v", v),
		base64.StdEncoding.EncodeToString(v),
		base64.RawURLEncoding.EncodeToString(v),
	}
	return append(enc, Words(v, 4, 8)...)
}

// Words are the 32- and 64-bit machine words that hold some window of v, as a
// traceback prints a function's arguments and leftover stack slots: hex without
// leading zeros, with and without "0x", read little-endian (every CPU the tracker
// runs on) and big-endian (how the bytes read in order). A window is every run of
// size bytes of v, at every offset, since the value may lie anywhere in a word.
func Words(v []byte, sizes ...int) []string {
	var words []string
	seen := map[string]bool{}
	add := func(n uint64) {
		h := strconv.FormatUint(n, 16)
		if len(h) < minWordDigits || seen[h] {
			return
		}
		seen[h] = true
		words = append(words, h, "0x"+h)
	}
	for _, size := range sizes {
		var buf [8]byte
		for off := 0; off+size <= len(v); off++ {
			w := v[off : off+size]
			clear(buf[:])
			copy(buf[:], w)
			add(binary.LittleEndian.Uint64(buf[:]))
			clear(buf[:])
			copy(buf[8-size:], w)
			add(binary.BigEndian.Uint64(buf[:]))
		}
	}
	return words
}

// AddrPort is every form of a peer's address and port worth looking for: the
// address and the pair as text, the 6- or 18-byte compact record the store and
// the wire use, and the machine words of the record and of the low half of the
// address's 16 bytes (netip keeps an IPv4 address as ::ffff:a.b.c.d); e.g. 127.0.0.77:2690 is the little-endian
// word 0x820a4d00007f. The port alone is also listed, in decimal.
func AddrPort(ap netip.AddrPort) []string {
	a := ap.Addr().Unmap()
	forms := []string{a.String(), netip.AddrPortFrom(a, ap.Port()).String(), strconv.Itoa(int(ap.Port()))}
	rec := append(a.AsSlice(), byte(ap.Port()>>8), byte(ap.Port()))
	forms = append(forms, hex.EncodeToString(a.AsSlice()), hex.EncodeToString(rec))
	forms = append(forms, Words(rec, 4, 6, 8)...)
	// Only the low word of the 16 bytes: the windows across ::ffff: are words like
	// 0x7fffff, which any dump holds.
	mapped := a.As16()
	return append(forms, Words(mapped[8:], 8)...)
}

// Find returns the secrets that text holds, each with a little of the text
// around its first occurrence. Case is ignored (hex may be printed in either).
// A secret of five digits or fewer, like a port, counts only where it stands
// alone: "17631" is not in "memory=1176310".
func Find(text string, secrets []string) []string {
	lower := strings.ToLower(text)
	var found []string
	for _, s := range secrets {
		if s == "" {
			continue
		}
		if i := index(lower, strings.ToLower(s), isShortNumber(s)); i >= 0 {
			lo, hi := max(i-40, 0), min(i+len(s)+40, len(text))
			found = append(found, fmt.Sprintf("%q in …%q…", s, text[lo:hi]))
		}
	}
	return found
}

func index(text, s string, alone bool) int {
	for from := 0; from <= len(text)-len(s); {
		i := strings.Index(text[from:], s)
		if i < 0 {
			return -1
		}
		i += from
		end := i + len(s)
		if !alone || ((i == 0 || !isDigit(text[i-1])) && (end == len(text) || !isDigit(text[end]))) {
			return i
		}
		from = i + 1
	}
	return -1
}

func isShortNumber(s string) bool {
	if len(s) > 5 {
		return false
	}
	for i := range len(s) {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Output collects what a tracker writes — its log, a process's stderr — where a
// test can read it while it is still being written.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
