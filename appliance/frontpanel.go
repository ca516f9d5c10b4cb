package appliance

import (
	"log/slog"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"sync"

	"github.com/swarmlight/swarmlight/appliance/clock"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/hw/board"
	"github.com/swarmlight/swarmlight/hw/sim"
)

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
		problems = append(problems, "no "+device(err.Error()))
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

// device names the device a board error is about, as the health page shows it
// ("led activity: ..." is the activity LED).
func device(msg string) string {
	name, _, _ := strings.Cut(msg, ":")
	if role, ok := strings.CutPrefix(name, "led "); ok {
		return role + " LED"
	}
	return name
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

// problemList is what the appliance says needs attention: devices that failed to
// open, memory that could not be locked, and a configuration reload that failed.
type problemList struct {
	mu     sync.Mutex
	hw     []string
	memory string // set once, before the panel starts
	reload string
}

func (p *problemList) setReload(s string) {
	p.mu.Lock()
	p.reload = s
	p.mu.Unlock()
}

func (p *problemList) list() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.reload == "" && p.memory == "" {
		return p.hw
	}
	var l []string
	for _, s := range []string{p.reload, p.memory} {
		if s != "" {
			l = append(l, s)
		}
	}
	return append(l, p.hw...)
}
