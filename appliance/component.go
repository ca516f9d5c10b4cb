package appliance

import (
	"context"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// component is one part of the running tracker: the store, the tracker, access,
// each front, the panel, the log, the memory lock. Run starts them in list order
// and stops them in reverse. A reload is two steps, so that a configuration that
// cannot be applied whole changes nothing: every component first readies its part
// of the new configuration (what can fail, like binding a new address, happens
// here, and nothing running changes), and only once every one has readied is each
// change committed.
type component interface {
	start(ctx context.Context) error
	reload(next config.Config) (change, error)
	stop(ctx context.Context)
}

// change is one component's readied part of a reload.
type change struct {
	// commit applies it. It cannot fail: what could fail was done when readying.
	// It returns the keys whose new value it found it can apply only at the
	// next start, having applied the rest.
	commit func() (restart []string)
	// cancel undoes the readying (closes the sockets bound for it) when another
	// component could not ready its part.
	cancel func()
}

// problemAccess is what the panel's health page shows while an access list or
// the key file could not be loaded.
const problemAccess = "access list error"

// Test hooks, nil outside tests: they let a test see what a reload handed to
// the parts it cannot reach from outside.
var (
	testHookPanel func(config.Panel, panel.Devices) // each panel started
	testHookRun   func(*tracker.Tracker)            // the tracker, once Run built it
	testHookStore func(swarm.Opts)                  // each configuration the store took
)

// RestartNotes are the keys a reload cannot always apply, each with when it
// cannot: check-config prints the note under the key, and a reload that meets
// the case logs the key as needing a restart ("needs_restart").
func RestartNotes() map[string]string {
	return map[string]string{
		"tracker.peer_timeout": "a reload applies it between 1/16 and 4 times the value the tracker started with (the store counts peer ages in steps fixed at start); beyond that, it needs a restart",
		"udp.workers":          "a reload applies it on Linux, binding the new sockets beside the old; elsewhere it needs a restart",
	}
}
