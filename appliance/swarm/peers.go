package swarm

import (
	"bytes"
	"net/netip"
	"slices"
)

// A peer record is the compact wire form of its address (4 or 16 address bytes and 2
// port bytes, big-endian) followed by 2 meta bytes: the status in the top 2 bits and
// the tick it was last heard in, modulo 2^14, below. 8 bytes per IPv4 peer and 20 per
// IPv6 peer, like opentracker; because the key is the wire form, handing a peer out is
// a copy, and because it is big-endian, byte order is address order.
//
// A swarm keeps one sorted byte slice per family, so finding a peer is a binary
// search and the records of a swarm sit in one allocation.
const (
	key4    = 6
	key6    = 18
	stride4 = key4 + 2
	stride6 = key6 + 2

	statusShift = 14
	tickMask    = 1<<statusShift - 1
)

// peerKey is a peer's record key: its compact wire form.
type peerKey struct {
	b [key6]byte
	n int // key4 or key6
}

func keyOf(ap netip.AddrPort) peerKey {
	var k peerKey
	a, port := ap.Addr(), ap.Port()
	if a.Is4() {
		a4 := a.As4()
		copy(k.b[:], a4[:])
		k.b[4], k.b[5] = byte(port>>8), byte(port)
		k.n = key4
		return k
	}
	a16 := a.As16()
	copy(k.b[:], a16[:])
	k.b[16], k.b[17] = byte(port>>8), byte(port)
	k.n = key6
	return k
}

func (k *peerKey) bytes() []byte { return k.b[:k.n] }

// list is one family's sorted records of a swarm.
type list struct {
	recs   []byte
	stride int
}

func (l *list) len() int { return len(l.recs) / l.stride }

func (l *list) rec(i int) []byte { return l.recs[i*l.stride : (i+1)*l.stride] }

// search returns the index of key, or where it would be inserted.
func (l *list) search(key []byte) (int, bool) {
	lo, hi := 0, l.len()
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if bytes.Compare(l.recs[m*l.stride:m*l.stride+len(key)], key) < 0 {
			lo = m + 1
		} else {
			hi = m
		}
	}
	found := lo < l.len() && bytes.Equal(l.recs[lo*l.stride:lo*l.stride+len(key)], key)
	return lo, found
}

func (l *list) meta(i int) uint16 {
	r := l.rec(i)
	return uint16(r[l.stride-2])<<8 | uint16(r[l.stride-1])
}

func (l *list) setMeta(i int, m uint16) {
	r := l.rec(i)
	r[l.stride-2], r[l.stride-1] = byte(m>>8), byte(m)
}

// insert puts a record for key at index i. Growth goes through append, so capacity
// follows the allocator's size classes and no byte of an allocation is wasted.
func (l *list) insert(i int, key []byte, m uint16) {
	var rec [stride6]byte
	copy(rec[:], key)
	rec[len(key)], rec[len(key)+1] = byte(m>>8), byte(m)
	l.recs = slices.Insert(l.recs, i*l.stride, rec[:l.stride]...)
}

func (l *list) remove(i int) {
	l.recs = slices.Delete(l.recs, i*l.stride, (i+1)*l.stride)
}

// shrink gives memory back after a swarm has lost most of its peers.
func (l *list) shrink() {
	if len(l.recs) == 0 {
		l.recs = nil
		return
	}
	if cap(l.recs) > 64 && len(l.recs) < cap(l.recs)/4 {
		l.recs = append([]byte(nil), l.recs...)
	}
}

func metaStatus(m uint16) Status { return Status(m >> statusShift) }

func makeMeta(s Status, tick uint32) uint16 {
	return uint16(s)<<statusShift | uint16(tick&tickMask)
}

// age is how many ticks ago a record was heard from. Ages are exact while below
// 2^14 ticks; the cleaner visits every record long before that (see table.go).
func age(m uint16, now uint32) uint32 { return (now - uint32(m)) & tickMask }
