package periph

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/swarmlight/swarmlight/hw"
)

const (
	// debounce is how long a contact bounces. Edges closer than this to a
	// reported press, or to each other, are one event.
	debounce = 50 * time.Millisecond
	// poll bounds each wait for an edge, so that WaitPress sees its context end.
	poll = 100 * time.Millisecond
)

// NewButton returns a push button on p, wired between the pin and ground: the
// pin is pulled up, and pressing the button pulls it low.
func NewButton(p gpio.PinIn) (hw.Button, error) {
	if err := p.In(gpio.PullUp, gpio.FallingEdge); err != nil {
		return nil, fmt.Errorf("button %s: %w", p.Name(), err)
	}
	return &button{p: p, now: time.Now}, nil
}

type button struct {
	p   gpio.PinIn
	now func() time.Time // a test's clock

	mu        sync.Mutex // one WaitPress at a time: they share the edges
	lastPress time.Time
	closed    atomic.Bool
}

func (b *button) String() string {
	return "button " + b.p.Name()
}

// WaitPress implements hw.Button.
//
// A press is a falling edge after which the pin, once quiet for the debounce
// time, still reads low. Waiting for quiet folds a press's bounces into one;
// reading the level drops the bounces of a release (they are falling edges
// too, but the pin settles high); and an edge within the debounce time of the
// last press (a contact chattering while held) is not a new press.
func (b *button) WaitPress(ctx context.Context) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for ctx.Err() == nil && !b.closed.Load() {
		if !b.waitEdge(ctx, poll) {
			continue
		}
		at := b.now()
		for b.waitEdge(ctx, debounce) {
			// Still bouncing.
		}
		if ctx.Err() != nil || b.closed.Load() {
			return false
		}
		if b.p.Read() != gpio.Low {
			continue
		}
		if !b.lastPress.IsZero() && at.Sub(b.lastPress) < debounce {
			continue
		}
		b.lastPress = at
		return true
	}
	return false
}

// waitEdge waits up to d for an edge. It never returns in less than d without
// one: some drivers answer false at once (gpioioctl on a line it could not set
// up for edges, or once closed), and WaitPress must not spin on them.
func (b *button) waitEdge(ctx context.Context, d time.Duration) bool {
	if ctx.Err() != nil || b.closed.Load() {
		return false
	}
	start := time.Now()
	if b.p.WaitForEdge(d) {
		return true
	}
	if rest := d - time.Since(start); rest > 0 {
		t := time.NewTimer(rest)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	return false
}

// Close implements hw.Button. It ends a WaitPress in progress (Halt interrupts
// periph's WaitForEdge) and, for drivers that hold the line open (gpioioctl),
// releases it.
func (b *button) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if err := b.p.Halt(); err != nil {
		return fmt.Errorf("button %s: halt: %w", b.p.Name(), err)
	}
	// gpioreg hands out aliases (P1_16 for GPIO23) as wrappers; the line is
	// behind them.
	var p any = b.p
	if r, ok := p.(gpio.RealPin); ok {
		p = r.Real()
	}
	if c, ok := p.(interface{ Close() }); ok {
		// Wait for WaitPress to leave the line: closing it under a read would
		// race inside the driver.
		b.mu.Lock()
		c.Close()
		b.mu.Unlock()
	}
	return nil
}
