package appliance

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"reflect"
	"runtime/debug"
	"runtime/metrics"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/board"
	"github.com/swarmlight/swarmlight/hw/clock"
	"github.com/swarmlight/swarmlight/hw/sim"
)

// panelPart is the front panel. It is off the hot path: a reload that changes its
// settings or the announce URLs stops it, reopens the devices as the new settings
// say, and starts it again.
type panelPart struct {
	cfg      config.Panel
	urls     func() []string
	trk      *tracker.Tracker
	problems *problemList
	log      *slog.Logger

	shown     []string // the URLs the running panel shows
	pnl       *panel.Panel
	cur       atomic.Pointer[panel.Panel] // pnl, for the status page's goroutines
	closeDevs func()
	cancel    context.CancelFunc
	done      chan struct{}
	panics    uint64 // of the panels stopped by reloads
}

// start runs the panel until stop. It reads aggregate counts on its own
// goroutines: whatever its hardware does, it cannot hold up an announce.
func (p *panelPart) start(context.Context) error {
	devs, hwProblems, closeDevs := openPanel(p.cfg, p.log)
	p.problems.setHW(hwProblems)
	if testHookPanel != nil {
		testHookPanel(p.cfg, devs)
	}
	p.shown = p.urls()
	p.pnl = panel.New(panel.Opts{Name: p.cfg.Name, URLs: p.shown, PageInterval: p.cfg.PageInterval},
		devs, clock.Real{}, panelSource(p.trk, p.problems), p.log)
	p.cur.Store(p.pnl)
	ctx, cancel := context.WithCancel(context.Background())
	p.closeDevs, p.cancel, p.done = closeDevs, cancel, make(chan struct{})
	go func() {
		defer close(p.done)
		p.pnl.Run(ctx, devs.Button)
	}()
	p.pnl.Serving()
	return nil
}

func (p *panelPart) reload(next config.Config) (change, error) {
	// The URLs are read when the change commits, after the fronts' changes.
	return change{commit: func() []string {
		if reflect.DeepEqual(p.cfg, next.Panel) && slices.Equal(p.shown, p.urls()) {
			return nil
		}
		p.stop(context.Background())
		p.panics += p.pnl.Panics()
		p.cfg = next.Panel
		_ = p.start(context.Background())
		return nil
	}}, nil
}

func (p *panelPart) stop(context.Context) {
	p.cancel()
	<-p.done
	p.closeDevs()
}

// Current is what the display shows now, for the status page: any goroutine
// may ask, across the panel's restarts.
func (p *panelPart) Current() (panel.Shown, bool) {
	if pn := p.cur.Load(); pn != nil {
		return pn.Current()
	}
	return panel.Shown{}, false
}

// Panics is how many panics the panel recovered from since Run started.
func (p *panelPart) Panics() uint64 { return p.panics + p.pnl.Panics() }

// openPanel builds the front panel's devices: the hardware found (auto), a
// simulation (sim, and auto on a machine without GPIO, which is how a PC runs), or
// none (off). A configured device that fails is logged once and becomes a problem
// the panel shows; tracking never waits for it. close releases what was opened.
func openPanel(cfg config.Panel, log *slog.Logger) (devs panel.Devices, problems []string, close func()) {
	close = func() {}
	switch cfg.Mode {
	case "off":
		return devs, nil, close
	case "sim":
		return simulated(cfg, panel.Devices{}), nil, close
	}
	d, errs := board.Open(board.Opts{
		Power: cfg.LEDPower, Activity: cfg.LEDActivity, Swarm: cfg.LEDSwarm, Error: cfg.LEDError,
		Button:  cfg.Button,
		Display: cfg.Display, DisplayBus: cfg.DisplayBus,
		DisplayAddress: uint16(cfg.DisplayAddress), DisplayHeight: cfg.DisplayHeight,
	})
	for _, err := range errs {
		log.Warn("panel: device unavailable; carrying on without it", "err", err)
		problems = append(problems, deviceProblem(err))
	}
	devs = panel.Devices{Power: d.Power, Activity: d.Activity, Swarm: d.Swarm, Error: d.Error, Display: d.Display, Button: d.Button}
	if d.NoHardware {
		log.Info("panel: no GPIO on this machine; simulating the front panel", "png", cfg.SimPNG)
		devs = simulated(cfg, devs)
	}
	return devs, problems, func() { d.Close() }
}

// simulated fills every device missing from devs with its simulation.
func simulated(cfg config.Panel, devs panel.Devices) panel.Devices {
	c := clock.Real{}
	if devs.Power == nil {
		devs.Power = sim.NewLED("power", c)
	}
	if devs.Activity == nil {
		devs.Activity = sim.NewLED("activity", c)
	}
	if devs.Swarm == nil {
		devs.Swarm = sim.NewLED("swarm", c)
	}
	if devs.Error == nil {
		devs.Error = sim.NewLED("error", c)
	}
	if devs.Display == nil {
		devs.Display = sim.NewDisplay(128, cfg.DisplayHeight, cfg.SimPNG)
	}
	if devs.Button == nil {
		devs.Button = sim.NewButton()
	}
	return devs
}

// deviceProblem words a device that cannot be used for the health page, short
// enough for its one line.
func deviceProblem(err error) string {
	var de *hw.DeviceError
	if !errors.As(err, &de) {
		return "panel device failed"
	}
	switch de.Kind {
	case hw.Missing:
		return "no " + de.Device
	case hw.Permission:
		return de.Device + ": no access"
	case hw.Busy:
		return de.Device + " busy"
	case hw.Invalid, hw.Conflict:
		return de.Device + " misconfigured"
	}
	return de.Device + " failed"
}

// panelSource reads what the panel shows: the tracker's atomics and the runtime's
// memory metrics, neither of which stops the world or takes a lock an announce
// needs. It is called from the panel's goroutine only.
func panelSource(trk *tracker.Tracker, problems *problemList) func() panel.Snapshot {
	heap := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	return func() panel.Snapshot {
		st := trk.Stats()
		metrics.Read(heap)
		// The store's memory is outside the Go heap, under its own budget: the
		// two together are what the tracker holds.
		limit := uint64(st.Swarm.MemoryBudget)
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			limit += uint64(l)
		}
		return panel.Snapshot{
			Torrents:  st.Swarm.Torrents,
			Seeders:   st.Swarm.Seeders,
			Leechers:  st.Swarm.Peers - st.Swarm.Seeders,
			Active:    st.Swarm.Active,
			Announces: st.Announces,
			CapHits:   st.Swarm.CapHits(),
			HeapBytes: heap[0].Value.Uint64() + uint64(st.Swarm.Memory),
			MemLimit:  limit,
			Problems:  problems.list(),
		}
	}
}

// problemList is what the appliance says needs attention: a configuration
// reload that failed, memory that could not be locked, an access list that could
// not be loaded, and devices that failed to open.
type problemList struct {
	mu     sync.Mutex
	reload string
	memory string
	access string
	hw     []string
}

func (p *problemList) setReload(s string) { p.set(&p.reload, s) }
func (p *problemList) setMemory(s string) { p.set(&p.memory, s) }
func (p *problemList) setAccess(s string) { p.set(&p.access, s) }

func (p *problemList) set(field *string, s string) {
	p.mu.Lock()
	*field = s
	p.mu.Unlock()
}

func (p *problemList) setHW(l []string) {
	p.mu.Lock()
	p.hw = l
	p.mu.Unlock()
}

func (p *problemList) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var l []string
	for _, s := range []string{p.reload, p.memory, p.access} {
		if s != "" {
			l = append(l, s)
		}
	}
	return append(l, p.hw...)
}
