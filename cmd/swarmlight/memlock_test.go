//go:build linux

package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/swarmlight/swarmlight/appliance/memlock"
)

// TestMemoryLock runs the real binary with memory locking on, off, and refused
// (no CAP_IPC_LOCK and a 64 KiB RLIMIT_MEMLOCK, as a service without
// LimitMEMLOCK gets). Locked, all it maps is locked (VmLck) but only what it
// touched is in RAM; refused, it serves anyway and says so in one WARN line, and
// check-config says so under process.lock_memory.
func TestMemoryLock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t, "v0-memlock")
	// Dropping CAP_IPC_LOCK and lowering the limit for the child alone takes
	// util-linux's setpriv and prlimit.
	refused := []string{"prlimit", "--memlock=65536:65536", "setpriv", "--bounding-set=-ipc_lock", "--"}
	tests := []struct {
		name       string
		wrap       []string
		lock       string
		wantLocked bool
		wantWarn   bool
		wantNote   string
	}{
		{name: "locked", lock: "true", wantLocked: true, wantNote: "# here: memory can be locked"},
		{name: "off", lock: "false", wantNote: "# here: off, so memory may be swapped to disk; memory can"},
		{name: "refused", wrap: refused, lock: "true", wantWarn: true, wantNote: "# here: memory cannot be locked (memlock: mlockall: cannot allocate memory)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.wrap != nil {
				needTool(t, "prlimit")
				needTool(t, "setpriv")
			}
			if tt.wantLocked {
				if _, unlimited, err := memlock.Limit(); err != nil || !unlimited {
					skipOrFail(t, "locking needs CAP_IPC_LOCK or RLIMIT_MEMLOCK=infinity here")
				}
			}
			args := append(append([]string{}, tt.wrap...), bin, "serve", "--config", configFile(t, ""),
				"--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0", "--panel.mode", "off",
				"--process.lock_memory="+tt.lock)
			p := startProc(t, exec.Command(args[0], args[1:]...))
			checkReachable(t, waitForAnnounce(t, p.lines, p.exited, p.stderr))
			pid := trackerPID(t, p.cmd.Process.Pid)
			locked, rss := procStatus(t, pid, "VmLck"), procStatus(t, pid, "VmRSS")
			if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case <-p.exited:
			case <-time.After(5 * time.Second):
				t.Fatal("still running 5 s after SIGTERM")
			}

			if tt.wantLocked && locked < 64<<20 || !tt.wantLocked && locked != 0 {
				t.Errorf("VmLck %d bytes, want locked %t", locked, tt.wantLocked)
			}
			// MCL_ONFAULT: locking the runtime's reservations, hundreds of MiB,
			// must not bring them into RAM. An idle tracker holds about 10 MiB.
			if rss > 64<<20 {
				t.Errorf("VmRSS %d MiB idle, VmLck %d MiB: locking filled in what was only mapped", rss>>20, locked>>20)
			}
			logs := p.stderr.String()
			if n := strings.Count(logs, "level=WARN msg=\"memory not locked"); n != btoi(tt.wantWarn) {
				t.Errorf("%d WARN lines about memory not locked, want %d:\n%s", n, btoi(tt.wantWarn), logs)
			}

			cc := append(append([]string{}, tt.wrap...), bin, "check-config", "--config", configFile(t, ""),
				"--http.listen", "127.0.0.1:0", "--udp.listen", "127.0.0.1:0", "--process.lock_memory="+tt.lock)
			out, err := exec.Command(cc[0], cc[1:]...).Output()
			if err != nil {
				t.Fatalf("check-config: %v", err)
			}
			if want := "\n  lock_memory: " + tt.lock + "\n  " + tt.wantNote; !strings.Contains(string(out), want) {
				t.Errorf("check-config lacks %q:\n%s", want, out)
			}
			again, stderr, status := runBinary(t, bin, "check-config", "--config", configFile(t, string(out)))
			if status != 0 || !strings.Contains(again, "lock_memory: "+tt.lock+"\n") {
				t.Errorf("check-config's output does not load back: status %d\n%s\n%s", status, stderr, again)
			}
		})
	}
}

// trackerPID checks that pid, started as a wrapper that execs the tracker
// (prlimit, setpriv), is the tracker by now. /proc/PID/status says so even of a
// process that is not dumpable, where /proc/PID/exe is closed to other users.
func trackerPID(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil || !strings.HasPrefix(string(b), "Name:\tswarmlight\n") {
		t.Fatalf("pid %d is not the tracker (%v): %.40q", pid, err, b)
	}
	return pid
}

// procStatus reads one "Name: N kB" figure of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, name string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			if f := strings.Fields(rest); len(f) == 2 && f[1] == "kB" {
				n, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil {
					return n << 10
				}
			}
		}
	}
	t.Fatalf("no %s in /proc/%d/status", name, pid)
	return 0
}

// needTool skips, or under CI=true fails, when a tool is missing.
func needTool(t *testing.T, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		skipOrFail(t, name+" is not installed (util-linux)")
	}
}

func skipOrFail(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
