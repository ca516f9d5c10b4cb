package sim

import (
	"context"
	"sync"
)

// Button is a simulated hw.Button, pressed by calling Press.
type Button struct {
	presses chan struct{}
	done    chan struct{}
	once    sync.Once
}

// NewButton returns a Button.
func NewButton() *Button {
	// A few presses wait for a slow WaitPress, as a real pin's edges queue in
	// the kernel; more are dropped, as a real panel misses presses it is too
	// busy to see.
	return &Button{presses: make(chan struct{}, 4), done: make(chan struct{})}
}

// Press presses the button once. It never blocks.
func (b *Button) Press() {
	select {
	case b.presses <- struct{}{}:
	default:
	}
}

// WaitPress implements hw.Button.
func (b *Button) WaitPress(ctx context.Context) bool {
	// A closed button or a done context wins over a queued press.
	select {
	case <-b.done:
		return false
	case <-ctx.Done():
		return false
	default:
	}
	select {
	case <-b.presses:
		return true
	case <-b.done:
	case <-ctx.Done():
	}
	return false
}

// Close implements hw.Button: a WaitPress in progress returns false.
func (b *Button) Close() error {
	b.once.Do(func() { close(b.done) })
	return nil
}
