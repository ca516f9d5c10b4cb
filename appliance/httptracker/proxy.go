package httptracker

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// trusted reports whether a, a connection's address, is one of list, the
// http.trusted_proxies in force.
func trusted(list []netip.Prefix, a netip.Addr) bool {
	for _, p := range list {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// maxHops bounds the forwarding entries read from one request. A real chain is a
// proxy or two; the rightmost entries are the ones that decide, so a longer list
// loses its leftmost ones and costs nothing more.
const maxHops = 16

// forwardedFor returns the client's address as the forwarding headers of a
// request from a trusted proxy name it, or false when they name none usably; the
// caller then keeps the proxy's own address.
//
// Every proxy appends the address it received the request from, so only the
// entries that trusted proxies wrote can be believed, and those are on the right:
// the rightmost entry that is not itself a trusted proxy is the client. Anything
// to its left came from the client and may be forged. When every entry is a
// trusted proxy, the leftmost is the nearest thing to a client there is.
//
// X-Forwarded-For is read if present (every such header, in order, each a comma
// list); otherwise RFC 7239 Forwarded's for= parameters. An entry that cannot be
// read, or says "unknown" or gives an obfuscated name (RFC 7239 §6.3), ends the
// walk with no address: what lies left of it cannot be checked.
func forwardedFor(h http.Header, list []netip.Prefix) (netip.Addr, bool) {
	var hops [maxHops]string
	var n int
	if xff := h["X-Forwarded-For"]; len(xff) > 0 {
		n = xffHops(xff, &hops)
	} else {
		n = forwardedHops(h["Forwarded"], &hops)
	}
	var leftmost netip.Addr
	for i := n - 1; i >= 0; i-- {
		a, ok := parseNode(hops[i])
		if !ok {
			return netip.Addr{}, false
		}
		if !trusted(list, a) {
			return a, true
		}
		leftmost = a
	}
	return leftmost, leftmost.IsValid()
}

// xffHops stores the entries of the X-Forwarded-For values in hops, left to right,
// as a ring that keeps the last maxHops, and returns how many there were (capped so
// that the ring's oldest entry is read first).
func xffHops(values []string, hops *[maxHops]string) int {
	n := 0
	for _, v := range values {
		for v != "" {
			var e string
			e, v, _ = strings.Cut(v, ",")
			if e = strings.TrimSpace(e); e != "" {
				hops[n%maxHops] = e
				n++
			}
		}
	}
	return ringLen(n, hops)
}

// forwardedHops stores the for= values of the Forwarded values in hops, as
// xffHops does. An element without for= names no client and is passed over.
func forwardedHops(values []string, hops *[maxHops]string) int {
	n := 0
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v = cutUnquoted(v, ',')
			for elem != "" {
				var pair string
				pair, elem = cutUnquoted(elem, ';')
				name, value, _ := strings.Cut(strings.TrimSpace(pair), "=")
				if strings.EqualFold(strings.TrimSpace(name), "for") {
					hops[n%maxHops] = strings.TrimSpace(value)
					n++
				}
			}
		}
	}
	return ringLen(n, hops)
}

// ringLen turns a count of n entries written into the ring into the count to
// read back from index 0. Past maxHops the ring is rotated so that index 0 holds
// the oldest entry kept.
func ringLen(n int, hops *[maxHops]string) int {
	if n <= maxHops {
		return n
	}
	var tmp [maxHops]string
	for i := range maxHops {
		tmp[i] = hops[(n+i)%maxHops]
	}
	*hops = tmp
	return maxHops
}

// cutUnquoted is strings.Cut on sep outside double quotes, so that a quoted
// value (for="[2001:db8::1]:4711") is never split inside.
func cutUnquoted(s string, sep byte) (before, after string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// parseNode reads one forwarding entry: an address, IPv6 possibly in brackets,
// possibly with a port, possibly quoted. ok is false for anything else, "unknown"
// and obfuscated names included. A zoned address names an interface on some
// proxy's host, not a client, so it is refused too. The form is told by its shape
// first, so that reading a good entry never goes through a parser's error.
func parseNode(s string) (netip.Addr, bool) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if strings.ContainsAny(s, "%\\\"") {
		return netip.Addr{}, false
	}
	var (
		a   netip.Addr
		err error
	)
	switch colons := strings.Count(s, ":"); {
	case strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]"):
		a, err = netip.ParseAddr(s[1 : len(s)-1])
	case strings.HasPrefix(s, "["), colons == 1:
		var ap netip.AddrPort
		ap, err = netip.ParseAddrPort(s)
		a = ap.Addr()
	default:
		a, err = netip.ParseAddr(s)
	}
	if err != nil || strings.HasPrefix(s, "[") && !a.Is6() {
		return netip.Addr{}, false
	}
	return tracker.SourceAddr(a), true
}

// forwardedProto is the scheme the client used, as a trusted proxy reports it in
// X-Forwarded-Proto: the leftmost entry, the one the first proxy saw. Only http
// and https are believed.
func forwardedProto(h http.Header) (string, bool) {
	v := h["X-Forwarded-Proto"]
	if len(v) == 0 {
		return "", false
	}
	first, _, _ := strings.Cut(v[0], ",")
	switch first = strings.TrimSpace(first); {
	case strings.EqualFold(first, "https"):
		return "https", true
	case strings.EqualFold(first, "http"):
		return "http", true
	}
	return "", false
}

// validHost reports whether host is host[:port] as a URL may carry it: a DNS name,
// an IPv4 address or a bracketed IPv6 address, and a decimal port. The Host header
// is whatever the client sent; only one that passes is repeated back.
func validHost(host string) bool {
	name, port := host, ""
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.HasSuffix(host, "]") {
		name, port = host[:i], host[i+1:]
		if port == "" || len(port) > 5 || strings.Trim(port, "0123456789") != "" {
			return false
		}
	}
	if strings.HasPrefix(name, "[") {
		a, err := netip.ParseAddr(strings.TrimSuffix(name[1:], "]"))
		return strings.HasSuffix(name, "]") && err == nil && a.Is6() && a.Zone() == ""
	}
	if name == "" || len(name) > 253 {
		return false
	}
	for label := range strings.SplitSeq(strings.TrimSuffix(name, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// announceURL is where a lost visitor should announce, for the 404 page: the host
// it asked for, if that is a valid one, with the scheme a trusted proxy reports.
func announceURL(r *http.Request, fromProxy bool) string {
	if !validHost(r.Host) {
		return "/announce"
	}
	scheme := "http"
	if fromProxy {
		if p, ok := forwardedProto(r.Header); ok {
			scheme = p
		}
	}
	return scheme + "://" + r.Host + "/announce"
}
