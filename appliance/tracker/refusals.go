package tracker

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
)

// Refusals counts refused requests by front and reason, for one log line per
// interval. A line per refusal would let anyone who can send garbage fill the
// journal (10,000 bad datagrams once wrote 10,343 lines at debug level); counts
// cost the same whatever the flood. Reasons are the fixed phrases of *Error, which
// never carry request data, so neither can the line.
//
// Counting allocates nothing: a reason already seen is found by a scan of the slots
// in use, and a slot, once filled, never changes.
type Refusals struct {
	mu    sync.Mutex   // one new slot at a time
	used  atomic.Int32 // slots filled; stored after the slot, so a reader sees it whole
	slots [maxRefusalReasons]refusalSlot
	other atomic.Uint64 // refusals whose reason found no free slot
}

// maxRefusalReasons is room for every reason the fronts have (about 40), on both
// fronts, with some to spare.
const maxRefusalReasons = 128

type refusalSlot struct {
	front, reason string
	count         atomic.Uint64
}

// Add counts one refusal on front ("http", "udp") for reason.
func (r *Refusals) Add(front, reason string) {
	if s := r.find(front, reason); s != nil {
		s.count.Add(1)
		return
	}
	r.mu.Lock()
	s := r.find(front, reason)
	if s == nil {
		n := int(r.used.Load())
		if n == len(r.slots) {
			r.mu.Unlock()
			r.other.Add(1)
			return
		}
		s = &r.slots[n]
		s.front, s.reason = front, reason
		r.used.Store(int32(n + 1))
	}
	r.mu.Unlock()
	s.count.Add(1)
}

func (r *Refusals) find(front, reason string) *refusalSlot {
	n := int(r.used.Load())
	for i := range n {
		if s := &r.slots[i]; s.reason == reason && s.front == front {
			return s
		}
	}
	return nil
}

// Log logs the refusals counted since the last call as one "refused" line, with the
// total and a count per "front: reason", and starts counting afresh. It logs
// nothing when there were none. It logs at info level, whatever the level: the
// counts are how an operator learns that clients are being turned away.
func (r *Refusals) Log(log *slog.Logger) {
	attrs := []slog.Attr{{}}
	var total uint64
	for i := range int(r.used.Load()) {
		s := &r.slots[i]
		if n := s.count.Swap(0); n > 0 {
			total += n
			attrs = append(attrs, slog.Uint64(s.front+": "+s.reason, n))
		}
	}
	if n := r.other.Swap(0); n > 0 {
		total += n
		attrs = append(attrs, slog.Uint64("other reasons", n))
	}
	if total == 0 {
		return
	}
	attrs[0] = slog.Uint64("total", total)
	log.LogAttrs(context.Background(), slog.LevelInfo, "refused", attrs...)
}
