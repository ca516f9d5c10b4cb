package appliance

import (
	"bytes"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/swarmlight/swarmlight/appliance/config"
)

// TestLockMemory covers what the tracker does with the outcome of locking, which
// the real binary test (cmd/swarmlight) shows end to end: a failure is one WARN
// line with the error's text, and a problem on the panel; a limit that the store
// and the heap could outgrow is one WARN line; success, or locking turned off, is
// silent.
func TestLockMemory(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(64 << 20))
	const mib = 1 << 20
	unlimited := func() (uint64, bool, error) { return 0, true, nil }
	finite := func(n uint64) func() (uint64, bool, error) {
		return func() (uint64, bool, error) { return n, false, nil }
	}
	refused := func() error { return fmt.Errorf("memlock: mlockall: %w", syscall.ENOMEM) }
	locked := func() error { return nil }
	tests := []struct {
		name     string
		off      bool
		lock     func() error
		room     func() (uint64, bool, error)
		problem  string
		wantLogs []string // one WARN line holding each, or none at all
	}{
		{name: "locked", lock: locked, room: unlimited},
		{name: "locked, room for the store and the heap", lock: locked, room: finite(200 * mib)},
		{name: "refused", lock: refused, room: unlimited, problem: "memory not locked",
			wantLogs: []string{"memory not locked", `err="memlock: mlockall: cannot allocate memory"`}},
		{name: "locked, but the limit is short", lock: locked, room: finite(100 * mib),
			wantLogs: []string{"RLIMIT_MEMLOCK may run out", "room=104857600", "need=167772160"}},
		{name: "turned off", off: true, lock: refused, room: finite(0)},
		{name: "no lock function (in-process tests)", room: finite(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.Swarm.MaxMemory = 96 * mib
			cfg.Process.LockMemory = !tt.off
			var logs bytes.Buffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			problem := lockMemory(cfg, tt.lock, tt.room, log)
			if problem != tt.problem {
				t.Errorf("problem %q, want %q", problem, tt.problem)
			}
			lines := strings.Count(logs.String(), "\n")
			if want := min(len(tt.wantLogs), 1); lines != want || (want == 1 && !strings.Contains(logs.String(), "level=WARN")) {
				t.Errorf("%d log lines, want %d WARN:\n%s", lines, want, &logs)
			}
			for _, w := range tt.wantLogs {
				if !strings.Contains(logs.String(), w) {
					t.Errorf("log lacks %q:\n%s", w, &logs)
				}
			}
			panel := (&problemList{hw: []string{"no display"}, memory: problem}).list()
			if tt.problem != "" && !slices.Contains(panel, tt.problem) {
				t.Errorf("panel problems %q lack %q", panel, tt.problem)
			}
		})
	}
}

// TestMemoryLockNote: check-config's answer is one line, fit for a YAML comment,
// and says whether memory can be locked.
func TestMemoryLockNote(t *testing.T) {
	for _, on := range []bool{true, false} {
		cfg := config.Default()
		cfg.Process.LockMemory = on
		note := MemoryLockNote(cfg)
		if strings.Contains(note, "\n") || !strings.HasPrefix(note, "here: ") ||
			!strings.Contains(note, "memory can be locked") && !strings.Contains(note, "memory cannot be locked") {
			t.Errorf("lock_memory %t: note %q", on, note)
		}
		if !on && !strings.Contains(note, "off") {
			t.Errorf("lock_memory false: note %q does not say locking is off", note)
		}
	}
}
