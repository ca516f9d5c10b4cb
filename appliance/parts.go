package appliance

import (
	"context"
	"errors"
	"log/slog"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/memlock"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
)

// logPart is the log's level and format.
type logPart struct{ o Options }

func (logPart) start(context.Context) error { return nil }
func (logPart) stop(context.Context)        {}

func (p logPart) reload(next config.Config) (change, error) {
	return change{commit: func() []string {
		if p.o.Level != nil {
			p.o.Level.Set(next.Log.Level)
		}
		if p.o.LogHandler != nil {
			p.o.LogHandler.SetFormat(next.Log.Format)
		}
		return nil
	}}, nil
}

// memoryPart locks the process's memory into RAM while process.lock_memory is on.
type memoryPart struct {
	o        Options
	cfg      config.Config
	log      *slog.Logger
	problems *problemList
	on       bool
}

func (m *memoryPart) start(context.Context) error {
	m.on = m.cfg.Process.LockMemory
	if m.on {
		m.lock(true)
	}
	return nil
}

// lock locks (on) or unlocks memory now. A lock that fails is a problem shown
// on the panel, not an error: a tracker whose memory can be swapped out still
// serves. Tests that share a process with others pass no lock functions.
func (m *memoryPart) lock(on bool) {
	m.on = on
	if !on {
		m.problems.setMemory("")
		if m.o.UnlockMemory != nil {
			if err := m.o.UnlockMemory(); err != nil {
				m.log.Warn("memory: unlock failed", "err", err)
			}
		}
		return
	}
	m.problems.setMemory(lockMemory(m.cfg, m.o.LockMemory, memlock.Room, m.log))
}

func (m *memoryPart) reload(next config.Config) (change, error) {
	if next.Process.LockMemory == m.on {
		return change{}, nil
	}
	return change{commit: func() []string {
		m.cfg = next
		m.lock(next.Process.LockMemory)
		return nil
	}}, nil
}

func (m *memoryPart) stop(context.Context) {}

// storePart is the peer store and its cleaner.
type storePart struct {
	store *swarm.Table
	log   *slog.Logger
}

func (s storePart) start(ctx context.Context) error {
	go s.store.Run(ctx, s.log)
	return nil
}

func (s storePart) reload(next config.Config) (change, error) {
	return change{commit: func() []string {
		// What the store cannot change while it holds peers it keeps as it is,
		// and names.
		err := s.store.Reconfigure(StoreOpts(next))
		if testHookStore != nil {
			testHookStore(StoreOpts(next))
		}
		if err == nil {
			return nil
		}
		if errors.Is(err, swarm.ErrRestart) {
			s.log.Warn("reload: tracker.peer_timeout applies at the next restart", "err", err)
			return []string{"tracker.peer_timeout"}
		}
		s.log.Warn("reload: swarm: not all applied", "err", err)
		return nil
	}}, nil
}

func (s storePart) stop(context.Context) { s.store.Close() }

// accessPart is who may use the tracker: the mode, its lists and keys, and the
// clients. A list that cannot be loaded keeps the one loaded before, is logged
// (by file and line, never a line's text) and lights the error LED until a good
// one is loaded.
type accessPart struct {
	acc      *access.Control
	opts     access.Opts
	log      *slog.Logger
	problems *problemList
}

func accessOpts(cfg config.Config) access.Opts {
	a := cfg.Access
	return access.Opts{Mode: a.Mode, AllowFile: a.AllowFile, DenyFile: a.DenyFile, KeyFile: a.KeyFile, Clients: a.Clients}
}

func (a *accessPart) start(ctx context.Context) error {
	a.report(a.acc.Apply(a.opts))
	go a.acc.Watch(ctx, a.report)
	return nil
}

func (a *accessPart) report(err error) {
	if err != nil {
		a.log.Error("access: a list or the key file could not be loaded; keeping what was loaded before", "err", err)
		a.problems.setAccess(problemAccess)
		return
	}
	a.problems.setAccess("")
}

func (a *accessPart) reload(next config.Config) (change, error) {
	return change{commit: func() []string {
		a.opts = accessOpts(next)
		a.report(a.acc.Apply(a.opts))
		return nil
	}}, nil
}

func (a *accessPart) stop(context.Context) {}

// trackerPart is what every announce and scrape is answered with.
type trackerPart struct{ trk *tracker.Tracker }

func (trackerPart) start(context.Context) error { return nil }
func (trackerPart) stop(context.Context)        {}

func (t trackerPart) reload(next config.Config) (change, error) {
	return change{commit: func() []string {
		t.trk.Reconfigure(trackerConfig(next))
		return nil
	}}, nil
}

// stopHook is a component that only acts when the tracker stops.
type stopHook func()

func (stopHook) start(context.Context) error          { return nil }
func (stopHook) reload(config.Config) (change, error) { return change{}, nil }
func (h stopHook) stop(context.Context)               { h() }
