package memlock

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance/internal/reexec"
)

// helperEnv makes the test binary, run again, be the process that locks: locking
// is for the whole process and for good, so the test's own process stays as it is.
const helperEnv = "MEMLOCK_TEST_HELPER"

// mapped is a region mapped before locking and never touched, as the Go runtime's
// arenas and the peer store's regions are: MCL_ONFAULT must leave it out of RAM.
const mapped = 64 << 20

func TestMain(m *testing.M) {
	if how := os.Getenv(helperEnv); how != "" {
		fmt.Print(lockHelper(how))
		return
	}
	os.Exit(m.Run())
}

// lockHelper maps an untouched region, locks as told, and reports in key=value
// words: the error, VmLck, and how much VmRSS grew.
func lockHelper(how string) string {
	region, err := unix.Mmap(-1, 0, mapped, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return "err=" + err.Error()
	}
	before := status("VmRSS")
	switch how {
	case "lock":
		err = Lock()
	case "lock without MCL_ONFAULT":
		err = unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE)
	case "refused":
		// What a service without LimitMEMLOCK gets: no CAP_IPC_LOCK, and a limit
		// far below what a Go process maps. Capabilities are per thread.
		runtime.LockOSThread()
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var caps [2]unix.CapUserData
		_ = unix.Capget(&hdr, &caps[0])
		caps[0].Effective &^= 1 << capIPCLock
		if err := unix.Capset(&hdr, &caps[0]); err != nil {
			return "err=capset:" + err.Error()
		}
		if err := unix.Setrlimit(unix.RLIMIT_MEMLOCK, &unix.Rlimit{Cur: 64 << 10, Max: 64 << 10}); err != nil {
			return "err=setrlimit:" + err.Error()
		}
		err = Lock()
	}
	limit, unlimited, _ := Limit()
	room, _, _ := Room()
	locked, _ := Locked()
	region[0] = 1 // one page touched after locking: it is locked and resident
	return fmt.Sprintf("err=%v locked=%d grew=%d limit=%d room=%d unlimited=%t",
		errors.Unwrap(err), locked, status("VmRSS")-before, limit, room, unlimited)
}

// status reads one "Name: N kB" figure of /proc/self/status, in bytes.
func status(name string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, name+":"); ok {
			f := strings.Fields(rest)
			n, _ := strconv.ParseInt(f[0], 10, 64)
			return n << 10
		}
	}
	return -1
}

// TestLock locks a process that has 64 MiB mapped and untouched. Lock must lock
// it all (VmLck) without bringing it into RAM (VmRSS), which is what MCL_ONFAULT
// is for; the control without it shows the RSS that would cost. Without the
// right to lock, Lock reports the error and changes nothing.
func TestLock(t *testing.T) {
	if _, unlimited, err := Limit(); err != nil || !unlimited {
		msg := fmt.Sprintf("this test needs CAP_IPC_LOCK or RLIMIT_MEMLOCK=infinity (limit: %v)", err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	tests := []struct {
		how       string
		wantErr   string
		minLocked int64
		minGrew   int64
		maxGrew   int64
		unlimited bool
		room      int64
	}{
		{how: "lock", wantErr: "<nil>", minLocked: mapped, maxGrew: 8 << 20, unlimited: true},
		{how: "lock without MCL_ONFAULT", wantErr: "<nil>", minLocked: mapped, minGrew: mapped, maxGrew: 1 << 40, unlimited: true},
		{how: "refused", wantErr: "cannot allocate memory", maxGrew: 8 << 20, room: 64 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.how, func(t *testing.T) {
			cmd := reexec.Command(t, helperEnv+"="+tt.how)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("helper: %v\n%s", err, out)
			}
			got := map[string]string{}
			for _, f := range strings.Fields(string(out)) {
				k, v, _ := strings.Cut(f, "=")
				got[k] = v
			}
			num := func(k string) int64 { n, _ := strconv.ParseInt(got[k], 10, 64); return n }
			if !strings.HasPrefix(got["err"], strings.Fields(tt.wantErr)[0]) {
				t.Errorf("error %q, want %q (%s)", got["err"], tt.wantErr, out)
			}
			if num("locked") < tt.minLocked {
				t.Errorf("VmLck %d bytes, want at least %d (%s)", num("locked"), tt.minLocked, out)
			}
			if g := num("grew"); g < tt.minGrew || g > tt.maxGrew {
				t.Errorf("VmRSS grew %d bytes on locking, want %d to %d (%s)", g, tt.minGrew, tt.maxGrew, out)
			}
			if num("room") != tt.room {
				t.Errorf("Room %d bytes, want %d (%s)", num("room"), tt.room, out)
			}
			if (got["unlimited"] == "true") != tt.unlimited {
				t.Errorf("Limit says unlimited=%s, want %t (%s)", got["unlimited"], tt.unlimited, out)
			}
		})
	}
}
