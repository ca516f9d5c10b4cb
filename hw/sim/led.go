package sim

import (
	"fmt"
	"sync"
	"time"

	"github.com/swarmlight/swarmlight/hw/clock"
)

// MaxHistory is how many changes an LED remembers: a simulated activity LED
// flashes with every announce for as long as `make run` runs.
const MaxHistory = 4096

// Change is one state change of an LED.
type Change struct {
	At time.Time
	On bool
}

// LED is a simulated hw.LED. It starts off.
type LED struct {
	name  string
	clock clock.Clock

	mu      sync.Mutex
	on      bool
	history []Change
	closed  bool
}

// NewLED returns an LED named name (for String and errors) whose changes are
// stamped by c; a nil c is the real clock.
func NewLED(name string, c clock.Clock) *LED {
	if c == nil {
		c = clock.Real{}
	}
	return &LED{name: name, clock: c}
}

func (l *LED) String() string {
	return "sim-led " + l.name
}

// Set implements hw.LED. Setting the state the LED already has is not a change
// and is not recorded.
func (l *LED) Set(on bool) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("sim-led %s: %w", l.name, errClosed)
	}
	l.set(on)
	return nil
}

func (l *LED) set(on bool) {
	if on == l.on {
		return
	}
	l.on = on
	if len(l.history) == MaxHistory {
		// Drop the oldest half at once, so a long run copies rarely.
		l.history = append(l.history[:0], l.history[MaxHistory/2:]...)
	}
	l.history = append(l.history, Change{At: l.clock.Now(), On: on})
}

// Close implements hw.LED: it turns the LED off.
func (l *LED) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.set(false)
		l.closed = true
	}
	return nil
}

// State reports whether the LED is on.
func (l *LED) State() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.on
}

// History returns the changes, oldest first (at least the last MaxHistory/2 of
// them, all of them in any test that makes fewer than MaxHistory).
func (l *LED) History() []Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]Change(nil), l.history...)
}
