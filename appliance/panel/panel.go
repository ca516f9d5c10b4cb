// Package panel turns the tracker's aggregate statistics into what the front panel
// shows: four LEDs and a small display. It runs on its own goroutine and reads
// snapshots built from atomics, so it never holds a lock the announce path wants,
// and it draws the display on yet another goroutine, so a slow or failing I2C bus
// delays nothing but the display. A device that fails is reported once and left
// alone; the rest of the panel, and the tracker, carry on.
package panel

import (
	"context"
	"image"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/swarmlight/swarmlight/appliance/internal/safe"
	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// Snapshot is the tracker's state as the panel sees it: aggregate counts only.
type Snapshot struct {
	Torrents  int
	Seeders   int
	Leechers  int
	Active    int      // swarms with a seeder and a downloader
	Announces uint64   // answered since start
	CapHits   uint64   // refused by a cap since start
	HeapBytes uint64   // the store's memory plus the Go heap's objects
	MemLimit  uint64   // the store's budget plus the Go memory limit; 0 for none
	Problems  []string // what the rest of the appliance says needs attention
}

// Devices are the panel's hardware; any may be nil.
type Devices struct {
	Power, Activity, Swarm, Error hw.LED
	Display                       hw.Display
	Button                        hw.Button
}

// Opts configures a Panel.
type Opts struct {
	Name         string
	URLs         []string      // announce URLs, preferred first
	PageInterval time.Duration // how long a page shows
}

// tick is how often LEDs are updated: fine enough for a 40 ms flash to show.
const tick = 20 * time.Millisecond

// redrawEvery bounds how often the display is redrawn when only figures change.
const redrawEvery = time.Second

// Panel drives the devices from snapshots.
type Panel struct {
	o      Opts
	clock  clock.Clock
	source func() Snapshot
	log    *slog.Logger

	serving atomic.Bool

	// Owned by the goroutine that calls Step.
	start      time.Time
	leds       [4]ledSlot
	flash      flasher
	page       int
	pageAt     time.Time
	drawnAt    time.Time
	capHits    uint64
	capHitAt   time.Time
	rate       float64
	rateAt     time.Time
	rateBase   uint64
	minuteAt   time.Time
	minuteBase uint64
	perMin     []uint32
	display    hw.Display
	displayBad atomic.Bool
	problems   []string // hardware that failed, as shown on the health page
	sharedAt   time.Time
	shown      atomic.Pointer[Shown] // for other goroutines: Current

	// Panics recovered from, each kind logged apart: the step, the display's
	// driver, the button's.
	stepPanics, drawPanics, buttonPanics safe.Panics
}

type ledSlot struct {
	name string
	led  hw.LED
	lit  bool
	set  bool // lit reflects the device
}

const (
	ledPower = iota
	ledActivity
	ledSwarm
	ledError
)

// New returns a Panel that reads source and drives dev.
func New(o Opts, dev Devices, c clock.Clock, source func() Snapshot, log *slog.Logger) *Panel {
	if o.PageInterval <= 0 {
		o.PageInterval = 5 * time.Second
	}
	now := c.Now()
	return &Panel{
		o: o, clock: c, source: source, log: log,
		start: now, pageAt: now, rateAt: now, minuteAt: now,
		leds: [4]ledSlot{
			{name: "power", led: dev.Power},
			{name: "activity", led: dev.Activity},
			{name: "swarm", led: dev.Swarm},
			{name: "error", led: dev.Error},
		},
		display: dev.Display,
	}
}

// Serving ends start-up: the power LED goes from solid to its heartbeat.
func (p *Panel) Serving() { p.serving.Store(true) }

// Run updates the panel until ctx is done. Button presses flip pages. It returns
// once nothing it started uses the devices any more, so they can be closed.
func (p *Panel) Run(ctx context.Context, button hw.Button) {
	var wg sync.WaitGroup
	defer wg.Wait()
	frames := make(chan image.Image, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		p.drawLoop(ctx, frames)
	}()
	presses := make(chan struct{}, 1)
	if button != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if safe.Do(func() { p.watchButton(ctx, button, presses) }) {
				p.buttonPanics.Add(p.log, "panel: button panic; carrying on without it")
			}
		}()
	}
	tk := time.NewTicker(tick)
	defer tk.Stop()
	for {
		var frame image.Image
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			frame = p.step(p.clock.Now(), false)
		case <-presses:
			frame = p.step(p.clock.Now(), true)
		}
		if frame != nil {
			// The drawer may still be busy with the last frame: replace it rather
			// than queue, so the display shows the newest state when it catches up.
			select {
			case <-frames:
			default:
			}
			frames <- frame
		}
	}
}

// watchButton passes presses on to Run, dropping those Run has not taken yet.
func (p *Panel) watchButton(ctx context.Context, button hw.Button, presses chan<- struct{}) {
	for button.WaitPress(ctx) {
		select {
		case presses <- struct{}{}:
		default:
		}
	}
}

// step is Step for Run. A panic in it, a bug or a driver's, must not end the
// process and every swarm with it: it is counted and logged, and the panel
// carries on at the next tick.
func (p *Panel) step(now time.Time, nextPage bool) (frame image.Image) {
	if safe.Do(func() { frame = p.Step(now, nextPage) }) {
		p.stepPanics.Add(p.log, "panel: panic; carrying on")
		return nil
	}
	return frame
}

// Panics is how many panics the panel recovered from.
func (p *Panel) Panics() uint64 {
	return p.stepPanics.Load() + p.drawPanics.Load() + p.buttonPanics.Load()
}

// drawLoop sends frames to the display, off the panel's goroutine. A display
// whose driver panics is given up, as one that fails is.
func (p *Panel) drawLoop(ctx context.Context, frames <-chan image.Image) {
	for {
		select {
		case <-ctx.Done():
			return
		case f := <-frames:
			var err error
			if safe.Do(func() { err = p.display.Draw(f) }) {
				p.drawPanics.Add(p.log, "panel: display panic; carrying on without it")
				p.displayBad.Store(true)
				return
			}
			if err != nil {
				p.log.Warn("panel: display failed; carrying on without it", "err", err)
				p.displayBad.Store(true)
				return
			}
		}
	}
}

// Step advances the panel to now: it sets the LEDs and returns a frame for the
// display when one is due (nil otherwise). nextPage flips to the next page.
func (p *Panel) Step(now time.Time, nextPage bool) image.Image {
	s := p.source()
	p.account(now, s)
	problems := p.problemsNow(now, s)

	p.setLED(ledPower, heartbeat(now.Sub(p.start), p.serving.Load(), len(problems) > 0))
	p.setLED(ledActivity, p.flash.lit(now, s.Announces))
	p.setLED(ledSwarm, s.Active > 0)
	p.setLED(ledError, len(problems) > 0)

	if p.display == nil || p.displayBad.Load() {
		p.share(now, s, problems, false)
		return nil
	}
	turned := nextPage || now.Sub(p.pageAt) >= p.o.PageInterval
	if turned {
		p.page = (p.page + 1) % NumPages
		p.pageAt = now
	}
	p.share(now, s, problems, turned)
	if !turned && !p.drawnAt.IsZero() && now.Sub(p.drawnAt) < redrawEvery {
		return nil
	}
	p.drawnAt = now
	return Render(p.page, p.view(now, s, problems), p.display.Bounds())
}

// account keeps the announce rate, the per-minute history and when a cap was hit.
func (p *Panel) account(now time.Time, s Snapshot) {
	if s.CapHits > p.capHits {
		p.capHitAt = now
	}
	p.capHits = s.CapHits
	if dt := now.Sub(p.rateAt); dt >= time.Second {
		// A moving average over a few seconds: steady enough to read.
		r := float64(s.Announces-p.rateBase) / dt.Seconds()
		p.rate = 0.6*p.rate + 0.4*r
		p.rateAt, p.rateBase = now, s.Announces
	}
	for now.Sub(p.minuteAt) >= time.Minute {
		p.perMin = append(p.perMin, uint32(min(s.Announces-p.minuteBase, 1<<32-1)))
		if len(p.perMin) > 60 {
			p.perMin = p.perMin[len(p.perMin)-60:]
		}
		p.minuteAt, p.minuteBase = p.minuteAt.Add(time.Minute), s.Announces
	}
}

func (p *Panel) problemsNow(now time.Time, s Snapshot) []string {
	problems := append([]string(nil), s.Problems...)
	if !p.capHitAt.IsZero() && now.Sub(p.capHitAt) < capHitHold {
		problems = append(problems, "tracker is full")
	}
	problems = append(problems, p.problems...)
	if p.displayBad.Load() {
		problems = append(problems, "display failed")
	}
	return problems
}

func (p *Panel) view(now time.Time, s Snapshot, problems []string) View {
	return View{
		Name:     p.o.Name,
		URLs:     p.o.URLs,
		Snapshot: s,
		Rate:     p.rate,
		PerMin:   p.perMin,
		Uptime:   now.Sub(p.start),
		Problems: problems,
	}
}

// setLED changes an LED only when its state changes, and gives up on an LED that
// fails, once, with one log line.
func (p *Panel) setLED(i int, lit bool) {
	l := &p.leds[i]
	if l.led == nil || (l.set && l.lit == lit) {
		return
	}
	if err := l.led.Set(lit); err != nil {
		p.log.Warn("panel: LED failed; carrying on without it", "led", l.name, "err", err)
		p.problems = append(p.problems, l.name+" LED failed")
		l.led = nil
		return
	}
	l.lit, l.set = lit, true
}

// Page is the page on show, for tests.
func (p *Panel) Page() int { return p.page }
