package access

import (
	"bytes"
	"fmt"
	"strings"
)

// maxClientPrefixes bounds access.clients, so the check on the announce path is a
// short loop over a fixed array.
const maxClientPrefixes = 32

// Clients is access.clients: peer_id prefixes that are the only ones let in (an
// allow list), or the ones kept out (a deny list, every entry written "!-XX").
// The zero value lets every client in.
type Clients struct {
	deny bool
	n    int
	pre  [maxClientPrefixes]prefix
}

// prefix is one peer_id prefix, in a fixed array so the check allocates nothing.
type prefix struct {
	n int
	b [20]byte
}

// ParseClients reads access.clients: peer_id prefixes of 1 to 20 printable ASCII
// characters such as "-qB" (qBittorrent), "-TR" (Transmission) or "-lt"
// (libtorrent). Either every entry starts with "!" (a deny list) or none does (an
// allow list). An empty list lets every client in.
func ParseClients(list []string) (Clients, error) {
	var c Clients
	if len(list) > maxClientPrefixes {
		return Clients{}, fmt.Errorf("%d prefixes; want at most %d", len(list), maxClientPrefixes)
	}
	for i, s := range list {
		deny := strings.HasPrefix(s, "!")
		if i == 0 {
			c.deny = deny
		} else if deny != c.deny {
			return Clients{}, fmt.Errorf(`%q: either every entry starts with "!" (keep these clients out) or none does (let only these in)`, s)
		}
		p := strings.TrimPrefix(s, "!")
		if len(p) == 0 || len(p) > 20 {
			return Clients{}, fmt.Errorf("%q: a peer_id prefix is 1 to 20 characters, like -qB", s)
		}
		for j := 0; j < len(p); j++ {
			if p[j] <= ' ' || p[j] > '~' {
				return Clients{}, fmt.Errorf("%q: a peer_id prefix is printable ASCII without spaces", s)
			}
		}
		c.pre[c.n].n = copy(c.pre[c.n].b[:], p)
		c.n++
	}
	return c, nil
}

// Allowed reports whether a client whose peer_id is id may announce.
func (c *Clients) Allowed(id *[20]byte) bool {
	if c.n == 0 {
		return true
	}
	for i := 0; i < c.n; i++ {
		p := &c.pre[i]
		if bytes.Equal(id[:p.n], p.b[:p.n]) {
			return !c.deny
		}
	}
	return c.deny
}

// Strings is the list as ParseClients reads it.
func (c Clients) Strings() []string {
	out := make([]string, c.n)
	for i := 0; i < c.n; i++ {
		out[i] = string(c.pre[i].b[:c.pre[i].n])
		if c.deny {
			out[i] = "!" + out[i]
		}
	}
	return out
}
