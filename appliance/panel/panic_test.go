package panel

import (
	"context"
	"image"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/swarmlight/swarmlight/appliance/privacytest"
	"github.com/swarmlight/swarmlight/hw/clock"
	"github.com/swarmlight/swarmlight/hw/periph"
)

// panicDisplay is a display whose driver panics on every frame.
type panicDisplay struct{ draws atomic.Int32 }

func (d *panicDisplay) Bounds() image.Rectangle { return image.Rect(0, 0, 128, 64) }
func (d *panicDisplay) Draw(image.Image) error  { d.draws.Add(1); panic("i2c: peer 127.0.0.77") }
func (d *panicDisplay) Close() error            { return nil }

// panicButton is a button whose driver panics when waited on.
type panicButton struct{}

func (panicButton) WaitPress(context.Context) bool { panic("gpio: peer 127.0.0.77") }
func (panicButton) Close() error                   { return nil }

// TestPanelSurvivesPanics runs the panel loop with a snapshot source that panics
// for a while, a display driver and a button driver that always panic. The loop
// must go on (the activity LED keeps flashing once the source recovers), the
// display and the button are given up, and each kind of panic is counted and
// logged in one fixed line that holds nothing of its value.
func TestPanelSurvivesPanics(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO17"}
	disp := &panicDisplay{}
	var logs privacytest.Output
	var calls atomic.Int64
	source := func() Snapshot {
		n := calls.Add(1)
		if n <= 20 {
			panic("snapshot: peer 127.0.0.77")
		}
		return Snapshot{Announces: uint64(n)} // a new announce each tick: the LED flashes
	}
	p := New(Opts{PageInterval: time.Second}, Devices{Activity: periph.NewGPIOLED(pin, false), Display: disp},
		clock.Real{}, source, slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, panicButton{}) }()

	deadline := time.Now().Add(5 * time.Second)
	seen := map[gpio.Level]bool{}
	for (len(seen) < 2 || disp.draws.Load() == 0) && time.Now().Before(deadline) {
		seen[pin.Read()] = true
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5 s of its context ending")
	}
	if len(seen) < 2 {
		t.Error("the activity LED stopped after the panel's step panicked")
	}
	if !p.displayBad.Load() || disp.draws.Load() != 1 {
		t.Errorf("panicking display: given up %t after %d draws, want given up after 1", p.displayBad.Load(), disp.draws.Load())
	}
	if n := p.Panics(); n < 22 {
		t.Errorf("Panics() = %d, want 20 steps + the display + the button", n)
	}
	out := logs.String()
	for _, msg := range []string{"panel: panic; carrying on", "panel: display panic; carrying on without it", "panel: button panic; carrying on without it"} {
		if n := strings.Count(out, `msg="`+msg+`"`); n != 1 {
			t.Errorf("%d lines %q, want 1:\n%s", n, msg, out)
		}
	}
	if strings.Contains(out, "127.0.0.77") {
		t.Errorf("the log holds a panic's value:\n%s", out)
	}
}
