package periph

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/swarmlight/swarmlight/hw/clock"
)

// quiet is how long a test waits to be sure no press comes.
const quiet = 300 * time.Millisecond

func newTestButton(t *testing.T) (*gpiotest.Pin, *button, *clock.Fake) {
	t.Helper()
	p := &gpiotest.Pin{N: "GPIO23", Num: 23, EdgesChan: make(chan gpio.Level, 16)}
	hb, err := NewButton(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hb.Close() })
	if p.P != gpio.PullUp || p.Read() != gpio.High {
		t.Fatalf("after NewButton: pull %s level %s, want pull-up and high", p.P, p.Read())
	}
	b := hb.(*button)
	c := clock.NewFake(time.Unix(1e9, 0))
	b.now = c.Now
	return p, b, c
}

// edges feeds levels as the pin's driver would report them; gpiotest sets the
// pin to each level as WaitForEdge returns it.
func edges(p *gpiotest.Pin, ls ...gpio.Level) {
	for _, l := range ls {
		p.EdgesChan <- l
	}
}

func waitPress(t *testing.T, b *button, d time.Duration) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return b.WaitPress(ctx)
}

func TestButton(t *testing.T) {
	const L, H = gpio.Low, gpio.High
	p, b, c := newTestButton(t)

	// A press that bounces is one press.
	edges(p, L, H, L, H, L)
	if !waitPress(t, b, 5*time.Second) {
		t.Fatal("press not reported")
	}
	if waitPress(t, b, quiet) {
		t.Fatal("one bouncing press reported twice")
	}

	// Held, the contact chatters within the debounce time: no new press.
	c.Advance(debounce / 2)
	edges(p, H, L)
	if waitPress(t, b, quiet) {
		t.Fatal("chatter within the debounce time reported as a press")
	}

	// The release bounces too, through falling edges, but settles high.
	c.Advance(time.Second)
	edges(p, H, L, H, L, H)
	if waitPress(t, b, quiet) {
		t.Fatal("a release reported as a press")
	}

	// A glitch: an edge after which the pin is high again.
	c.Advance(time.Second)
	edges(p, L, H)
	if waitPress(t, b, quiet) {
		t.Fatal("a glitch reported as a press")
	}

	// The next real press.
	c.Advance(time.Second)
	edges(p, L)
	if !waitPress(t, b, 5*time.Second) {
		t.Fatal("second press not reported")
	}
}

func TestButtonCancel(t *testing.T) {
	_, b, _ := newTestButton(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- b.WaitPress(ctx) }()
	cancel()
	select {
	case got := <-done:
		if got {
			t.Fatal("cancelled WaitPress reported a press")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitPress did not return after cancel")
	}
	if b.WaitPress(ctx) {
		t.Fatal("WaitPress on a done context reported a press")
	}
}

func TestButtonClose(t *testing.T) {
	_, b, _ := newTestButton(t)
	done := make(chan bool)
	go func() { done <- b.WaitPress(context.Background()) }()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-done:
		if got {
			t.Fatal("WaitPress reported a press after Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WaitPress did not return after Close")
	}
	if err := b.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// noEdgePin refuses edge detection, as a pin without interrupt support does.
type noEdgePin struct{ gpiotest.Pin }

func (p *noEdgePin) In(gpio.Pull, gpio.Edge) error { return errors.New("edge detection not supported") }

func TestButtonError(t *testing.T) {
	_, err := NewButton(&noEdgePin{gpiotest.Pin{N: "GPIO4"}})
	if err == nil || err.Error() != "button GPIO4: edge detection not supported" {
		t.Fatalf("NewButton: %v", err)
	}
}

// deafPin answers WaitForEdge at once with nothing: WaitPress must wait, not
// spin, and still end with its context.
type deafPin struct {
	gpiotest.Pin
	calls int
}

func (p *deafPin) WaitForEdge(time.Duration) bool { p.calls++; return false }

func TestButtonDeafPin(t *testing.T) {
	p := &deafPin{Pin: gpiotest.Pin{N: "GPIO5", EdgesChan: make(chan gpio.Level)}}
	b, err := NewButton(p)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 350*time.Millisecond)
	defer cancel()
	if b.WaitPress(ctx) {
		t.Fatal("press on a deaf pin")
	}
	if p.calls > 10 {
		t.Fatalf("WaitForEdge called %d times in 350ms: spinning", p.calls)
	}
}
