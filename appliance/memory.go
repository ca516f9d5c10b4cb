package appliance

import (
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"

	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/memlock"
)

// problemMemoryNotLocked is what the panel's health page shows when locking failed.
const problemMemoryNotLocked = "memory not locked"

// lockMemory locks the process's memory into RAM, if process.lock_memory asks for
// it, before the store holds any peer. A tracker whose memory cannot be locked
// still serves, since refusing would help no one: it says so once in the log
// and returns the problem for the panel to show. lock is memlock.Lock; nil (a
// test that shares its process with others) locks nothing. room is memlock.Room.
func lockMemory(cfg config.Config, lock func() error, room func() (uint64, bool, error), log *slog.Logger) (problem string) {
	if !cfg.Process.LockMemory || lock == nil {
		return ""
	}
	if err := lock(); err != nil {
		log.Warn("memory not locked: peer data may be swapped to disk; give the service LimitMEMLOCK=infinity", "err", err)
		return problemMemoryNotLocked
	}
	if room, need, short := lockRoom(cfg, room); short {
		// Past the limit every new mapping fails: the store's growth is refused
		// and the Go heap's is a fatal out-of-memory error.
		log.Warn("memory locked, but RLIMIT_MEMLOCK may run out before swarm.max_memory and GOMEMLIMIT do; give the service LimitMEMLOCK=infinity",
			"room", room, "need", need)
	}
	return ""
}

// lockRoom compares what the process may still lock with what it may still grow
// by: the store up to its budget (its own mappings, outside the Go heap) and the
// Go heap up to GOMEMLIMIT. Under LimitMEMLOCK=infinity, or as root, there is
// always room. Without GOMEMLIMIT the heap has no bound, and a finite limit is
// always short. need is 0 then.
func lockRoom(cfg config.Config, roomNow func() (uint64, bool, error)) (room, need uint64, short bool) {
	room, unlimited, err := roomNow()
	if err != nil || unlimited {
		return room, 0, false
	}
	heap := debug.SetMemoryLimit(-1)
	if heap == math.MaxInt64 {
		return room, 0, true
	}
	need = uint64(cfg.Swarm.MaxMemory) + uint64(heap)
	return room, need, room < need
}

// MemoryLockNote says, for check-config, whether this process can lock its
// memory, trying it (and unlocking again) to find out: the answer depends on the
// user, the limits and the seccomp filter it runs under, so "here" is the
// process check-config runs as, which is not the service unless run as it.
func MemoryLockNote(cfg config.Config) string {
	off := ""
	if !cfg.Process.LockMemory {
		off = "off, so memory may be swapped to disk; "
	}
	if err := memlock.Lock(); err != nil {
		return fmt.Sprintf("here: %smemory cannot be locked (%v); the tracker would run with its memory swappable; the systemd unit sets LimitMEMLOCK=infinity", off, err)
	}
	room, need, short := lockRoom(cfg, memlock.Room)
	_ = memlock.Unlock()
	switch {
	case short && need == 0:
		return fmt.Sprintf("here: %smemory can be locked, but RLIMIT_MEMLOCK leaves %s and GOMEMLIMIT is unset: locking may fail later; the systemd unit sets LimitMEMLOCK=infinity", off, mib(room))
	case short:
		return fmt.Sprintf("here: %smemory can be locked, but RLIMIT_MEMLOCK leaves %s, less than swarm.max_memory + GOMEMLIMIT (%s): locking may fail later; the systemd unit sets LimitMEMLOCK=infinity", off, mib(room), mib(need))
	}
	return "here: " + off + "memory can be locked"
}

func mib(n uint64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
