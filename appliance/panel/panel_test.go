package panel

import (
	"bytes"
	"context"
	"errors"
	"image"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/clock"
	"github.com/swarmlight/swarmlight/hw/periph"
	"github.com/swarmlight/swarmlight/hw/sim"
)

// bench is a panel on periph's fake GPIO pins and a simulated display, driven by a
// fake clock: Step at chosen instants, then read the pins.
type bench struct {
	t     *testing.T
	clock *clock.Fake
	pins  [4]*gpiotest.Pin
	disp  *sim.Display
	snap  atomic.Pointer[Snapshot]
	p     *Panel
	logs  *bytes.Buffer
}

func newBench(t *testing.T, dev Devices) *bench {
	t.Helper()
	b := &bench{t: t, clock: clock.NewFake(time.Date(2026, 11, 22, 9, 0, 0, 0, time.UTC)), logs: &bytes.Buffer{}}
	leds := []*hw.LED{&dev.Power, &dev.Activity, &dev.Swarm, &dev.Error}
	for i, name := range []string{"GPIO17", "GPIO27", "GPIO22", "GPIO23"} {
		b.pins[i] = &gpiotest.Pin{N: name, Num: 17 + i}
		if *leds[i] == nil {
			*leds[i] = periph.NewGPIOLED(b.pins[i], false)
		}
	}
	if dev.Display == nil {
		b.disp = sim.NewDisplay(128, 64, "")
		dev.Display = b.disp
	}
	b.snap.Store(&Snapshot{})
	log := slog.New(slog.NewTextHandler(b.logs, nil))
	b.p = New(Opts{Name: "swarmlight", URLs: []string{"udp://10.0.0.2:6969/announce"}, PageInterval: 5 * time.Second},
		dev, b.clock, func() Snapshot { return *b.snap.Load() }, log)
	return b
}

// at advances the clock by d, steps, and returns the LED levels (power, activity,
// swarm, error).
func (b *bench) at(d time.Duration) [4]bool {
	b.clock.Advance(d)
	if f := b.p.Step(b.clock.Now(), false); f != nil && b.disp != nil {
		if err := b.disp.Draw(f); err != nil {
			b.t.Fatal(err)
		}
	}
	var lit [4]bool
	for i, p := range b.pins {
		lit[i] = p.Read() == gpio.High
	}
	return lit
}

func (b *bench) set(s Snapshot) { b.snap.Store(&s) }

func TestPowerLED(t *testing.T) {
	b := newBench(t, Devices{})
	// Solid while starting, however long that takes.
	for range 10 {
		if !b.at(300 * time.Millisecond)[ledPower] {
			t.Fatal("power LED not solid during start-up")
		}
	}
	b.p.Serving()
	// Serving: a slow blink, one change a second.
	if got := pattern(b, ledPower, 100*time.Millisecond, 40); changes(got) < 3 || changes(got) > 5 {
		t.Errorf("serving: %d changes in 4 s, want a slow blink (about 4): %v", changes(got), got)
	}
	// Something needs attention: a fast blink.
	b.set(Snapshot{CapHits: 1})
	if got := pattern(b, ledPower, 25*time.Millisecond, 40); changes(got) < 6 {
		t.Errorf("alarm: %d changes in 1 s, want a fast blink: %v", changes(got), got)
	}
}

func TestActivityLED(t *testing.T) {
	b := newBench(t, Devices{})
	b.p.Serving()
	if got := pattern(b, ledActivity, 10*time.Millisecond, 50); changes(got) != 0 {
		t.Errorf("idle tracker flashed the activity LED: %v", got)
	}
	// A steady stream of announces: flashes, but no more than one per flashGap.
	var n uint64
	var got []bool
	for range 100 {
		n += 7
		b.set(Snapshot{Announces: n})
		got = append(got, b.at(10 * time.Millisecond)[ledActivity])
	}
	flashes := (changes(got) + 1) / 2
	if flashes < 3 || flashes > 6 {
		t.Errorf("busy for 1 s: %d flashes, want a steady flicker of about 5 (at most one per %v): %v", flashes, flashGap, got)
	}
	// One announce after quiet (the burst's last flash drained): one short flash.
	b.at(time.Second)
	b.at(time.Second)
	b.set(Snapshot{Announces: n + 1})
	if got := pattern(b, ledActivity, 10*time.Millisecond, 30); (changes(got)+1)/2 != 1 || countTrue(got) > 5 {
		t.Errorf("one announce: %v, want one short flash", got)
	}
}

func TestSwarmAndErrorLEDs(t *testing.T) {
	b := newBench(t, Devices{})
	b.p.Serving()
	if lit := b.at(time.Second); lit[ledSwarm] || lit[ledError] {
		t.Errorf("empty tracker: %v", lit)
	}
	b.set(Snapshot{Active: 1})
	if lit := b.at(time.Second); !lit[ledSwarm] || lit[ledError] {
		t.Errorf("a swarm with a seeder and a downloader: %v, want swarm on", lit)
	}
	// A cap hit lights the error LED for a while, then it clears.
	b.set(Snapshot{Active: 1, CapHits: 2})
	if lit := b.at(time.Second); !lit[ledError] {
		t.Error("cap hit: error LED off")
	}
	if lit := b.at(capHitHold - 2*time.Second); !lit[ledError] {
		t.Error("error LED cleared too soon after a cap hit")
	}
	if lit := b.at(3 * time.Second); lit[ledError] {
		t.Error("error LED still on long after the last cap hit")
	}
	// A problem the appliance reports lights it while it lasts.
	b.set(Snapshot{Problems: []string{"config reload failed"}})
	if lit := b.at(time.Second); !lit[ledError] || lit[ledSwarm] {
		t.Errorf("reported problem: %v", lit)
	}
	b.set(Snapshot{})
	if lit := b.at(time.Second); lit[ledError] {
		t.Error("error LED stayed on after the problem cleared")
	}
}

// failingLED fails every Set, like an LED whose pin was taken away mid-run.
type failingLED struct{ sets atomic.Int32 }

func (f *failingLED) Set(bool) error { f.sets.Add(1); return errors.New("gpio: pin busy") }
func (f *failingLED) Close() error   { return nil }

func TestFailingLEDIsDroppedOnce(t *testing.T) {
	bad := &failingLED{}
	b := newBench(t, Devices{Activity: bad})
	b.p.Serving()
	for i := range 50 {
		b.set(Snapshot{Announces: uint64(i)})
		b.at(50 * time.Millisecond)
	}
	if n := bad.sets.Load(); n != 1 {
		t.Errorf("failing LED was tried %d times, want once", n)
	}
	if n := strings.Count(b.logs.String(), "LED failed"); n != 1 {
		t.Errorf("%d log lines about the failed LED, want 1:\n%s", n, b.logs)
	}
	lit := b.at(time.Second)
	if !lit[ledError] {
		t.Error("a failed LED does not light the error LED")
	}
	b.p.page = PageHealth - 1
	b.clock.Advance(5 * time.Second)
	f := b.p.Step(b.clock.Now(), false)
	if f == nil || b.p.Page() != PageHealth {
		t.Fatalf("no health page drawn (page %d)", b.p.Page())
	}
}

func TestPagesRotateAndFlip(t *testing.T) {
	b := newBench(t, Devices{})
	b.p.Serving()
	b.at(0)
	frames := b.disp.Frames()
	if b.p.Page() != PageAnnounce || frames != 1 {
		t.Fatalf("first page %d after %d frames", b.p.Page(), frames)
	}
	b.at(4 * time.Second)
	if b.p.Page() != PageAnnounce {
		t.Error("page turned before its interval")
	}
	b.at(time.Second)
	if b.p.Page() != PageSwarms {
		t.Errorf("page %d after the interval, want %d", b.p.Page(), PageSwarms)
	}
	// The button flips at once.
	if f := b.p.Step(b.clock.Now(), true); f == nil || b.p.Page() != PageHistory {
		t.Errorf("button: page %d", b.p.Page())
	}
	// Figures that change are redrawn, but at most once a second.
	before := b.disp.Frames()
	for i := range 20 {
		b.set(Snapshot{Torrents: i})
		b.at(20 * time.Millisecond)
	}
	if n := b.disp.Frames() - before; n > 1 {
		t.Errorf("%d redraws in 400 ms", n)
	}
}

// slowDisplay blocks in Draw until released, like an I2C bus that hangs.
type slowDisplay struct {
	release chan struct{}
	draws   atomic.Int32
	fail    bool
}

func (s *slowDisplay) Bounds() image.Rectangle { return image.Rect(0, 0, 128, 64) }
func (s *slowDisplay) Draw(image.Image) error {
	s.draws.Add(1)
	<-s.release
	if s.fail {
		return errors.New("i2c: remote I/O error")
	}
	return nil
}
func (s *slowDisplay) Close() error { return nil }

// A display that hangs or fails never holds up the LEDs (nor, so, anything else):
// drawing happens on a goroutine of its own.
func TestSlowDisplayDoesNotBlock(t *testing.T) {
	slow := &slowDisplay{release: make(chan struct{}), fail: true}
	pin := &gpiotest.Pin{N: "GPIO27"}
	var logs bytes.Buffer
	var mu sync.Mutex
	announces := uint64(0)
	p := New(Opts{PageInterval: time.Second}, Devices{Activity: periph.NewGPIOLED(pin, false), Display: slow}, clock.Real{},
		func() Snapshot { mu.Lock(); defer mu.Unlock(); announces++; return Snapshot{Announces: announces} },
		slog.New(slog.NewTextHandler(&logs, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx, nil) }()
	// The activity LED keeps flashing while the display is stuck in Draw.
	deadline := time.Now().Add(5 * time.Second)
	seen := map[gpio.Level]bool{}
	for len(seen) < 2 && time.Now().Before(deadline) {
		seen[pin.Read()] = true
		time.Sleep(5 * time.Millisecond)
	}
	if len(seen) < 2 {
		t.Error("LEDs stopped while the display hung")
	}
	close(slow.release) // the bus comes back, with an error
	deadline = time.Now().Add(5 * time.Second)
	for !p.displayBad.Load() && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
	if !p.displayBad.Load() || slow.draws.Load() != 1 {
		t.Errorf("failed display: bad=%v after %d draws, want given up after 1", p.displayBad.Load(), slow.draws.Load())
	}
}

func pattern(b *bench, led int, step time.Duration, n int) []bool {
	out := make([]bool, n)
	for i := range out {
		out[i] = b.at(step)[led]
	}
	return out
}

func changes(s []bool) int {
	n := 0
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1] {
			n++
		}
	}
	return n
}

func countTrue(s []bool) int {
	n := 0
	for _, v := range s {
		if v {
			n++
		}
	}
	return n
}
