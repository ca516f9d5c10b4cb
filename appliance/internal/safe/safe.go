// Package safe keeps the tracker's long-running goroutines alive through a bug.
// A panic in a UDP worker, the store's cleaner or the panel would otherwise end
// the process, and with it every swarm, and print its value and stack, which may
// hold a peer's data. Here it is stopped, counted and logged with a fixed message;
// the value is dropped unread.
package safe

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Do runs f and reports whether it panicked. The panic stops here.
func Do(f func()) (panicked bool) {
	defer func() {
		// Since Go 1.21 panic(nil) recovers as a *runtime.PanicNilError, so
		// every panic is non-nil here.
		panicked = recover() != nil
	}()
	f()
	return false
}

// logEvery bounds the log lines a panic that recurs (a bug that one crafted
// request finds, sent again and again) can cost: one a minute, with the count.
const logEvery = time.Minute

// Panics counts the panics one component recovered from, and logs them.
type Panics struct {
	n      atomic.Uint64
	logged atomic.Int64 // when the last line was logged, in Unix nanoseconds
}

// Add counts one more panic and logs msg, a fixed text, with the count so far,
// unless a line went out less than a minute ago.
func (p *Panics) Add(log *slog.Logger, msg string) {
	n := p.n.Add(1)
	now := time.Now().UnixNano()
	last := p.logged.Load()
	if last != 0 && now-last < int64(logEvery) || !p.logged.CompareAndSwap(last, now) {
		return
	}
	log.Error(msg, "panics", n)
}

// Load is how many panics have been recovered.
func (p *Panics) Load() uint64 { return p.n.Load() }
