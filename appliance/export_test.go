package appliance

import (
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// SetTestHooks sets the hooks a reload test watches the running tracker through,
// until restore. Tests that set them do not run in parallel.
func SetTestHooks(onPanel func(config.Panel, panel.Devices), onRun func(*tracker.Tracker), onStore func(swarm.Opts)) (restore func()) {
	testHookPanel, testHookRun, testHookStore = onPanel, onRun, onStore
	return func() { testHookPanel, testHookRun, testHookStore = nil, nil, nil }
}
