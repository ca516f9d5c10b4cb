package swarm

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// A swarm's peers live in one block of its shard's arena. A peer record is the
// compact wire form of its address (4 or 16 address bytes and 2 port bytes,
// big-endian) followed by 2 meta bytes: the status in the top 2 bits and the tick it
// was last heard in, modulo 2^14, below. 8 bytes per IPv4 peer and 20 per IPv6 peer,
// like opentracker; because the key is the wire form, handing a peer out is a copy.
//
// IPv4 records fill the block from the front and IPv6 records from the back, so one
// block serves both families with no second allocation and no moving of one family
// when the other grows. Records are unordered: a record leaves by swapping the last
// one of its family into its place.
//
// A block of up to idxMinWords words is searched from end to end, which for a few
// dozen 8-byte records costs less than hashing. Bigger blocks carry an open-addressing
// index of their records after the records themselves (linear probing, no
// tombstones), so finding a peer costs the same in a swarm of 200 as of 1 000 000.
const (
	key4    = 6
	key6    = 18
	stride4 = key4 + 2
	stride6 = key6 + 2

	statusShift = 14
	tickMask    = 1<<statusShift - 1

	wordBytes   = 8 // blocks are sized and placed in 8-byte words
	idxMinWords = 128
	v6Flag      = 1 << 31 // in an index slot: the position is an IPv6 record's
	maxClass    = 191     // classWords(maxClass) is about 2^25 words: 250 MiB of peers
)

// Block capacities come in classes: 0 to 8 words exactly, then eight steps per
// doubling, so a block wastes at most an eighth of itself.
func classWords(c uint8) int {
	if c <= 8 {
		return int(c)
	}
	return (8 + int(c&7)) << (c>>3 - 1)
}

// classFor is the smallest class holding n words.
func classFor(n int) uint8 {
	if n <= 8 {
		return uint8(n)
	}
	e := bits.Len(uint(n)) - 4
	m := (n + 1<<e - 1) >> e
	if m == 16 {
		e, m = e+1, 8
	}
	return uint8((e+1)<<3 | (m - 8))
}

var idxMinClass = classFor(idxMinWords)

// idxSlots is the index size of a block of class c: a power of two with the load at
// most three quarters when the block is full of IPv4 records; 0 for small blocks.
func idxSlots(c uint8) int {
	if c < idxMinClass {
		return 0
	}
	w := classWords(c)
	return 1 << bits.Len(uint(w+w/3))
}

// blockWords is the arena space a block of class c takes: records and index.
func blockWords(c uint8) int { return classWords(c) + idxSlots(c)/2 }

// peerKey is a peer's record key, its compact wire form, also loaded as integers
// for comparing and hashing.
type peerKey struct {
	wire [key6]byte
	v6   bool
	a, b uint64 // IPv4: the 6 wire bytes; IPv6: wire bytes 0-7 and 8-15
	c    uint16 // IPv6: wire bytes 16-17, the port
}

func keyOf(ap netip.AddrPort) peerKey {
	var k peerKey
	a, port := ap.Addr(), ap.Port()
	if a.Is4() {
		a4 := a.As4()
		copy(k.wire[:], a4[:])
		binary.BigEndian.PutUint16(k.wire[4:], port)
		k.a = le48(k.wire[:])
		return k
	}
	a16 := a.As16()
	copy(k.wire[:], a16[:])
	binary.BigEndian.PutUint16(k.wire[16:], port)
	k.v6 = true
	k.a = binary.LittleEndian.Uint64(k.wire[0:])
	k.b = binary.LittleEndian.Uint64(k.wire[8:])
	k.c = binary.LittleEndian.Uint16(k.wire[16:])
	return k
}

func (k *peerKey) bytes() []byte {
	if k.v6 {
		return k.wire[:key6]
	}
	return k.wire[:key4]
}

func le48(b []byte) uint64 {
	_ = b[5]
	return uint64(binary.LittleEndian.Uint32(b)) | uint64(binary.LittleEndian.Uint16(b[4:]))<<32
}

// hash is the key's index hash under the store's secret seed: clients choose their
// ports, and must not be able to choose collisions.
func (k *peerKey) hash(seed uint64) uint64 {
	if !k.v6 {
		return mix(k.a ^ seed)
	}
	return mix(k.a ^ seed ^ mix(k.b^uint64(k.c)<<48^seed))
}

// mix is the splitmix64 finalizer: every input bit moves every output bit.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}

func metaStatus(m uint16) Status { return Status(m >> statusShift) }

func makeMeta(s Status, tick uint32) uint16 {
	return uint16(s)<<statusShift | uint16(tick&tickMask)
}

// age is how many ticks ago a record was heard from. Ages are exact while below
// 2^14 ticks; the cleaner visits every record long before that (see table.go).
func age(m uint16, now uint32) uint32 { return (now - uint32(m)) & tickMask }

// block is a view of one swarm's records in its shard's arena.
type block struct {
	p      []byte   // the record area: IPv4 from the front, IPv6 from the back
	idx    []uint32 // the index, or nil for a small block
	n4, n6 int
	seed   uint64
}

func (b *block) free() int { return len(b.p) - b.n4*stride4 - b.n6*stride6 }

func (b *block) rec4(i int) []byte { return b.p[i*stride4 : i*stride4+stride4] }

func (b *block) rec6(j int) []byte {
	end := len(b.p) - j*stride6
	return b.p[end-stride6 : end]
}

// rec is record i of the family k belongs to.
func (b *block) rec(v6 bool, i int) []byte {
	if v6 {
		return b.rec6(i)
	}
	return b.rec4(i)
}

func (b *block) meta(v6 bool, i int) uint16 {
	r := b.rec(v6, i)
	return binary.LittleEndian.Uint16(r[len(r)-2:])
}

func (b *block) setMeta(v6 bool, i int, m uint16) {
	r := b.rec(v6, i)
	binary.LittleEndian.PutUint16(r[len(r)-2:], m)
}

func (b *block) is(k *peerKey, v6 bool, i int) bool {
	if v6 != k.v6 {
		return false
	}
	if !v6 {
		return le48(b.rec4(i)) == k.a
	}
	r := b.rec6(i)
	return binary.LittleEndian.Uint64(r) == k.a && binary.LittleEndian.Uint64(r[8:]) == k.b &&
		binary.LittleEndian.Uint16(r[16:]) == k.c
}

// find returns the position of k's record in its family.
func (b *block) find(k *peerKey) (int, bool) {
	if b.idx != nil {
		mask := uint64(len(b.idx) - 1)
		for s := k.hash(b.seed) & mask; ; s = (s + 1) & mask {
			v := b.idx[s]
			if v == 0 {
				return 0, false
			}
			if i := int(v&^v6Flag) - 1; (v&v6Flag != 0) == k.v6 && b.is(k, k.v6, i) {
				return i, true
			}
		}
	}
	if !k.v6 {
		for i := range b.n4 {
			if le48(b.p[i*stride4:]) == k.a {
				return i, true
			}
		}
		return 0, false
	}
	for j := range b.n6 {
		if b.is(k, true, j) {
			return j, true
		}
	}
	return 0, false
}

// add appends k's record; the caller has made room (free() is enough).
func (b *block) add(k *peerKey, m uint16) {
	var r []byte
	var i int
	if k.v6 {
		i = b.n6
		b.n6++
		r = b.rec6(i)
		copy(r, k.wire[:key6])
	} else {
		i = b.n4
		b.n4++
		r = b.rec4(i)
		copy(r, k.wire[:key4])
	}
	binary.LittleEndian.PutUint16(r[len(r)-2:], m)
	if b.idx != nil {
		b.idxInsert(k.hash(b.seed), slotValue(k.v6, i))
	}
}

// remove takes record i of the family v6 out, moving its family's last record into
// its place.
func (b *block) remove(v6 bool, i int) {
	last := b.n4 - 1
	if v6 {
		last = b.n6 - 1
	}
	if b.idx != nil {
		k := b.keyAt(v6, i)
		b.idxDelete(k.hash(b.seed), slotValue(v6, i))
		if i != last {
			lk := b.keyAt(v6, last)
			b.idxReplace(lk.hash(b.seed), slotValue(v6, last), slotValue(v6, i))
		}
	}
	if i != last {
		copy(b.rec(v6, i), b.rec(v6, last))
	}
	if v6 {
		b.n6--
	} else {
		b.n4--
	}
}

// keyAt rebuilds the key of a stored record, for rehashing it.
func (b *block) keyAt(v6 bool, i int) peerKey {
	var k peerKey
	k.v6 = v6
	if !v6 {
		k.a = le48(b.rec4(i))
		return k
	}
	r := b.rec6(i)
	k.a = binary.LittleEndian.Uint64(r)
	k.b = binary.LittleEndian.Uint64(r[8:])
	k.c = binary.LittleEndian.Uint16(r[16:])
	return k
}

func slotValue(v6 bool, i int) uint32 {
	if v6 {
		return uint32(i+1) | v6Flag
	}
	return uint32(i + 1)
}

func (b *block) idxInsert(h uint64, v uint32) {
	mask := uint64(len(b.idx) - 1)
	s := h & mask
	for b.idx[s] != 0 {
		s = (s + 1) & mask
	}
	b.idx[s] = v
}

func (b *block) idxSlotOf(h uint64, v uint32) uint64 {
	mask := uint64(len(b.idx) - 1)
	s := h & mask
	for b.idx[s] != v {
		s = (s + 1) & mask
	}
	return s
}

func (b *block) idxReplace(h uint64, old, v uint32) { b.idx[b.idxSlotOf(h, old)] = v }

// idxDelete empties v's slot and shifts later members of its probe run back, so
// that no run is ever broken and no tombstone is needed.
func (b *block) idxDelete(h uint64, v uint32) {
	mask := uint64(len(b.idx) - 1)
	hole := b.idxSlotOf(h, v)
	for j := (hole + 1) & mask; b.idx[j] != 0; j = (j + 1) & mask {
		w := b.idx[j]
		k := b.keyAt(w&v6Flag != 0, int(w&^v6Flag)-1)
		home := k.hash(b.seed) & mask
		// w may move back to the hole only if its home is not in (hole, j].
		if (j-home)&mask >= (j-hole)&mask {
			b.idx[hole], b.idx[j] = w, 0
			hole = j
		}
	}
	b.idx[hole] = 0
}

// reindex rebuilds the index from the records, after records moved in bulk.
func (b *block) reindex() {
	if b.idx == nil {
		return
	}
	clear(b.idx)
	for i := range b.n4 {
		k := b.keyAt(false, i)
		b.idxInsert(k.hash(b.seed), slotValue(false, i))
	}
	for j := range b.n6 {
		k := b.keyAt(true, j)
		b.idxInsert(k.hash(b.seed), slotValue(true, j))
	}
}
