package swarm

import (
	"math/bits"
	"sync"
	"sync/atomic"
	"unsafe"
)

// A shard holds 1/numShards of the torrents, under one lock, in three regions:
//
//   - recs: fixed-size torrent records, reused through a free list;
//   - idx: an open-addressing table of 32-bit slots from info-hash to record
//     (linear probing, backward-shift deletion, no tombstones): the record id plus
//     8 bits of the hash, so a probe rarely has to look at a record that is not
//     the one wanted;
//   - arena: the swarms' peer blocks, allocated at the top and compacted by
//     copying when dead blocks make up enough of it to be worth it.
//
// None of it holds a pointer, and none of it is on the Go heap.
type shard struct {
	mu sync.Mutex

	recs  region
	nrec  uint32 // records ever handed out; those above are untouched memory
	free  uint32 // first free record + 1, chained through torrent.off
	count int    // torrents here, retained ones included

	// Retained torrents (no peers, kept for their completed count), and the
	// minute its longest-retained one emptied | hintValid, 0 when not known: read
	// without the lock, by announces on other shards looking for one to evict.
	kept   atomic.Int32
	oldest atomic.Uint32

	idx region

	arena     region
	top, live int // arena words handed out, and those still in use

	lastClean uint32
	_         [16]byte // keep neighbouring shards' locks off one cache line
}

// torrent is one swarm's record: 48 bytes, whatever its size.
type torrent struct {
	hash      [20]byte
	completed uint32
	seeders   uint32
	partial   uint32
	n4, n6    uint32
	off       uint32 // its peer block's arena offset in words; for a free record, the next free one + 1
	class     uint8  // its peer block's class; 0: no block
	state     uint8
	since     uint16 // retained: the minute it lost its last peer, mod 2^16
}

// Record states.
const (
	stateFree = iota
	stateLive
	stateKept // no peers; kept for its completed count until the retention passes
)

const torrentSize = int(unsafe.Sizeof(torrent{}))

// maxRecords bounds a shard's record ids to the 24 bits an index slot holds.
const maxRecords = 1<<24 - 2

func (sh *shard) records() []torrent { return records(sh.recs.b) }

// records views b, a page-aligned mapping, as torrent records.
func records(b []byte) []torrent {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*torrent)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/torrentSize)
}

// lookup finds the record of info-hash ih, whose store hash is h.
func (sh *shard) lookup(h uint64, ih *[20]byte) (uint32, bool) {
	slots := sh.idx.words()
	if len(slots) == 0 {
		return 0, false
	}
	recs := sh.records()
	mask := uint64(len(slots) - 1)
	tag := idxTag(h)
	for s := idxHome(h, mask); ; s = (s + 1) & mask {
		v := slots[s]
		if v == 0 {
			return 0, false
		}
		if v>>24 == tag {
			if id := v&(1<<24-1) - 1; recs[id].hash == *ih {
				return id, true
			}
		}
	}
}

func idxTag(h uint64) uint32               { return uint32(h>>8) & 0xff }
func idxHome(h uint64, mask uint64) uint64 { return (h >> 16) & mask }

// add takes a free record for ih and indexes it. It fails, changing nothing, when
// the budget has no room for the records or the index to grow.
func (sh *shard) add(h uint64, ih *[20]byte, m *meter) (uint32, error) {
	if err := sh.growIndex(sh.count+1, m); err != nil {
		return 0, err
	}
	var id uint32
	if sh.free != 0 {
		id = sh.free - 1
		sh.free = sh.records()[id].off
	} else {
		if sh.nrec >= maxRecords {
			return 0, ErrMemoryFull
		}
		if int(sh.nrec) == len(sh.records()) {
			n := len(sh.recs.b)
			if err := sh.recs.resize(max(n+n/8, n+pageSize), m, true); err != nil {
				return 0, err
			}
		}
		id = sh.nrec
		sh.nrec++
	}
	sh.records()[id] = torrent{hash: *ih, state: stateLive}
	sh.insertIdx(h, id)
	sh.count++
	return id, nil
}

// drop forgets record id: out of the index, back on the free list.
func (sh *shard) drop(h uint64, id uint32) {
	sh.deleteIdx(h, id)
	recs := sh.records()
	recs[id] = torrent{off: sh.free}
	sh.free = id + 1
	sh.count--
}

func (sh *shard) insertIdx(h uint64, id uint32) {
	slots := sh.idx.words()
	mask := uint64(len(slots) - 1)
	s := idxHome(h, mask)
	for slots[s] != 0 {
		s = (s + 1) & mask
	}
	slots[s] = idxTag(h)<<24 | (id + 1)
}

func (sh *shard) deleteIdx(h uint64, id uint32) {
	slots := sh.idx.words()
	recs := sh.records()
	mask := uint64(len(slots) - 1)
	v := idxTag(h)<<24 | (id + 1)
	hole := idxHome(h, mask)
	for slots[hole] != v {
		hole = (hole + 1) & mask
	}
	for j := (hole + 1) & mask; slots[j] != 0; j = (j + 1) & mask {
		w := slots[j]
		home := idxHome(hashOf(&recs[w&(1<<24-1)-1].hash), mask)
		if (j-home)&mask >= (j-hole)&mask {
			slots[hole], slots[j] = w, 0
			hole = j
		}
	}
	slots[hole] = 0
}

// growIndex makes the index big enough for n torrents at a load of at most 3/4.
func (sh *shard) growIndex(n int, m *meter) error {
	slots := len(sh.idx.b) / 4
	if n*4 <= slots*3 {
		return nil
	}
	size := max(1024, slots*2)
	var next region
	if err := next.resize(size*4, m, true); err != nil {
		return err
	}
	old := sh.idx
	sh.idx = next
	recs := sh.records()
	for id := range sh.nrec {
		if recs[id].state != stateFree {
			sh.insertIdx(hashOf(&recs[id].hash), id)
		}
	}
	return old.resize(0, m, false)
}

// block is the view of tor's peers. tor must be a record of sh.
func (sh *shard) block(tor *torrent, seed uint64) block {
	b := block{n4: int(tor.n4), n6: int(tor.n6), seed: seed}
	if tor.class == 0 {
		return b
	}
	start := int(tor.off) * wordBytes
	recBytes := classWords(tor.class) * wordBytes
	b.p = sh.arena.b[start : start+recBytes : start+recBytes]
	if n := idxSlots(tor.class); n > 0 {
		b.idx = words(sh.arena.b[start+recBytes : start+recBytes+n*4])
	}
	return b
}

// reblock moves tor's peers to a block of class c (0: none), copying the records
// and rebuilding the index; the old block becomes dead space. With strict, it fails
// and changes nothing when the budget has no room for the arena to grow.
func (sh *shard) reblock(tor *torrent, c uint8, seed uint64, m *meter, strict bool) error {
	if c == tor.class {
		return nil
	}
	if c == 0 {
		sh.release(tor)
		return nil
	}
	off, err := sh.alloc(blockWords(c), m, strict)
	if err != nil {
		return err
	}
	old := sh.block(tor, seed) // after alloc, which may have moved every block
	sh.release(tor)
	tor.class, tor.off = c, uint32(off)
	nb := sh.block(tor, seed)
	copy(nb.p, old.p[:old.n4*stride4])
	copy(nb.p[len(nb.p)-old.n6*stride6:], old.p[len(old.p)-old.n6*stride6:])
	if nb.idx != nil {
		nb.reindex()
	}
	return nil
}

// release makes tor's block dead space; a block at the top of the arena is given
// back at once.
func (sh *shard) release(tor *torrent) {
	if tor.class == 0 {
		return
	}
	w := blockWords(tor.class)
	sh.live -= w
	if int(tor.off)+w == sh.top {
		sh.top -= w
	}
	tor.class, tor.off = 0, 0
}

// alloc hands out n words at the top of the arena. When they do not fit it
// compacts, if dead blocks would free enough and make up a sixteenth of the arena
// (so compacting copies at most 16 live words per dead word reclaimed, and dead
// space stays small); otherwise it grows the arena by at least an eighth, which
// costs nothing until used.
func (sh *shard) alloc(n int, m *meter, strict bool) (int, error) {
	capWords := len(sh.arena.b) / wordBytes
	if sh.top+n <= capWords {
		off := sh.top
		sh.top += n
		sh.live += n
		return off, nil
	}
	dead := sh.top - sh.live
	compact := dead >= n && dead*16 >= sh.top
	if !compact {
		size := max(sh.top+n, capWords+capWords/8) * wordBytes
		err := sh.arena.resize(size, m, strict)
		if err != nil && dead < n {
			return 0, err
		}
		compact = err != nil
	}
	if compact {
		if err := sh.compact(n, m, strict); err != nil {
			return 0, err
		}
	}
	return sh.alloc(n, m, strict)
}

// compact copies the live blocks into a fresh arena with room for extra more words
// and frees the old one. It needs the old and the new arena for a moment, a shard's
// worth: the price of never keeping dead space. With strict, the new arena may be
// bigger than the old only as far as the budget allows.
func (sh *shard) compact(extra int, m *meter, strict bool) error {
	need := (sh.live + extra) * wordBytes
	size, old := need+need/8, len(sh.arena.b)
	if strict && pageRound(size) > old && !m.room(int64(pageRound(size)-old)) {
		size = need
		if pageRound(size) > old && !m.room(int64(pageRound(size)-old)) {
			return ErrMemoryFull
		}
	}
	var next region
	if err := next.resize(size, m, false); err != nil {
		return err
	}
	recs := sh.records()
	top := 0
	for id := range sh.nrec {
		tor := &recs[id]
		if tor.class == 0 {
			continue
		}
		w := blockWords(tor.class) * wordBytes
		copy(next.b[top:top+w], sh.arena.b[int(tor.off)*wordBytes:])
		tor.off = uint32(top / wordBytes)
		top += w
	}
	prev := sh.arena
	sh.arena = next
	sh.top, sh.live = top/wordBytes, top/wordBytes
	return prev.resize(0, m, false)
}

// shrink gives back what a shard that lost most of its torrents or peers no
// longer needs: the cleaner calls it after each sweep.
func (sh *shard) shrink(m *meter) {
	switch capWords := len(sh.arena.b) / wordBytes; {
	case sh.live == 0 && capWords > 0:
		_ = sh.arena.resize(0, m, false)
		sh.top = 0
	case sh.live*4 < capWords && capWords*wordBytes > 4*pageSize:
		_ = sh.compact(0, m, false)
	}
	switch {
	case sh.count == 0 && len(sh.recs.b) > 0:
		_ = sh.recs.resize(0, m, false)
		_ = sh.idx.resize(0, m, false)
		sh.nrec, sh.free = 0, 0
	case int(sh.nrec) > 4*sh.count && len(sh.recs.b) > 4*pageSize:
		sh.repack(m)
	}
}

// repack moves the torrent records down to the lowest ids and rebuilds a smaller
// index over them. Record ids live only in the index, so nothing else changes.
func (sh *shard) repack(m *meter) {
	size := sh.count * torrentSize
	var recs, idx region
	if recs.resize(size+size/8, m, false) != nil {
		return
	}
	slots := max(1024, 1<<bits.Len(uint(sh.count*2)))
	if idx.resize(slots*4, m, false) != nil {
		_ = recs.resize(0, m, false)
		return
	}
	old := sh.records()
	next := records(recs.b)
	n := uint32(0)
	for id := range sh.nrec {
		if old[id].state != stateFree {
			next[n] = old[id]
			n++
		}
	}
	oldRecs, oldIdx := sh.recs, sh.idx
	sh.recs, sh.idx, sh.nrec, sh.free = recs, idx, n, 0
	for id := range n {
		sh.insertIdx(hashOf(&next[id].hash), id)
	}
	_ = oldRecs.resize(0, m, false)
	_ = oldIdx.resize(0, m, false)
}

// releaseAll unmaps every region of the shard, leaving it empty.
func (sh *shard) releaseAll(m *meter) {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for _, r := range []*region{&sh.recs, &sh.idx, &sh.arena} {
		_ = r.resize(0, m, false)
	}
	sh.nrec, sh.free, sh.count, sh.top, sh.live = 0, 0, 0, 0, 0
	sh.kept.Store(0)
	sh.oldest.Store(0)
}
