package swarm

import (
	"sync/atomic"
	"unsafe"
)

// The store keeps its records outside the Go heap, in anonymous memory mappings
// (mem_linux.go). The garbage collector never scans or copies them, a full heap does
// not make the next GC cycle's target twice the store's size, and the bytes mapped
// are exactly what the budget (Opts.MaxMemory) counts. Everything kept there is
// plain bytes and integers: nothing in a region may hold a Go pointer.

// meter counts the bytes mapped by every region of one store against its budget.
type meter struct {
	used atomic.Int64
	max  atomic.Int64 // 0: no budget; lowered below used, it refuses growth and frees nothing
}

// take accounts for n more bytes; with strict it refuses, changing nothing, when
// they would go beyond the budget. Regions that grow to admit a new torrent or peer
// are strict; a compaction or rehash that frees as much as it takes is not.
func (m *meter) take(n int64, strict bool) bool {
	if u, limit := m.used.Add(n), m.max.Load(); strict && limit > 0 && u > limit {
		m.used.Add(-n)
		return false
	}
	return true
}

func (m *meter) give(n int64) { m.used.Add(-n) }

// room reports whether n more bytes fit in the budget.
func (m *meter) room(n int64) bool {
	limit := m.max.Load()
	return limit <= 0 || m.used.Load()+n <= limit
}

// region is one growable piece of mapped memory.
type region struct {
	b []byte
}

// pageRound rounds n up to whole pages, the unit a mapping is made of.
func pageRound(n int) int { return (n + pageSize - 1) &^ (pageSize - 1) }

// resize makes the region at least n bytes long (n > 0) keeping its contents, or
// frees it (n == 0). The new length is n rounded up to pages.
func (r *region) resize(n int, m *meter, strict bool) error {
	n = pageRound(n)
	old := len(r.b)
	if n == old {
		return nil
	}
	if n > old && !m.take(int64(n-old), strict) {
		return ErrMemoryFull
	}
	var b []byte
	var err error
	switch {
	case n == 0:
		err = unmap(r.b)
	case old == 0:
		b, err = mapAnon(n)
	default:
		b, err = remap(r.b, n)
	}
	if err != nil {
		if n > old {
			m.give(int64(n - old))
		}
		return err
	}
	if n < old {
		m.give(int64(old - n))
	}
	r.b = b
	return nil
}

// zero gives the region's pages back to the system, leaving it mapped and reading
// as zeros.
func (r *region) zero() { zeroPages(r.b) }

// words is the region as 32-bit words.
func (r *region) words() []uint32 { return words(r.b) }

// words views b as 32-bit words. Every b here starts on an 8-byte boundary of a
// page-aligned mapping, so the view is aligned on every architecture.
func words(b []byte) []uint32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(b))), len(b)/4)
}
