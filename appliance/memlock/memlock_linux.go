package memlock

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Lock locks every page the process has mapped, and every page it maps from now
// on, into RAM (mlockall MCL_CURRENT|MCL_FUTURE). MCL_ONFAULT (Linux 4.4) locks a
// page only once it is first touched: without it each arena the Go runtime
// reserves, and each region the peer store maps, would be filled in at once,
// and the resident set would balloon to everything mapped.
//
// It fails with EPERM where locking is not allowed at all (a seccomp filter),
// and with ENOMEM or EAGAIN when the process lacks CAP_IPC_LOCK and
// RLIMIT_MEMLOCK is smaller than what it has mapped (the default limit, 8 MiB
// on current kernels, always is: the Go runtime alone reserves more).
func Lock() error {
	if err := unix.Mlockall(unix.MCL_CURRENT | unix.MCL_FUTURE | unix.MCL_ONFAULT); err != nil {
		return fmt.Errorf("memlock: mlockall: %w", err)
	}
	return nil
}

// Unlock undoes Lock.
func Unlock() error {
	if err := unix.Munlockall(); err != nil {
		return fmt.Errorf("memlock: munlockall: %w", err)
	}
	return nil
}

// capIPCLock is CAP_IPC_LOCK's bit: a process that holds it may lock any amount.
const capIPCLock = 14

// Limit is how many bytes this process may lock, RLIMIT_MEMLOCK's soft limit;
// unlimited when that is infinite or the process holds CAP_IPC_LOCK, which
// overrides it.
func Limit() (n uint64, unlimited bool, err error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var caps [2]unix.CapUserData
	if err := unix.Capget(&hdr, &caps[0]); err != nil {
		return 0, false, fmt.Errorf("memlock: capget: %w", err)
	}
	if caps[0].Effective&(1<<capIPCLock) != 0 {
		return 0, true, nil
	}
	var rl unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_MEMLOCK, &rl); err != nil {
		return 0, false, fmt.Errorf("memlock: getrlimit: %w", err)
	}
	if rl.Cur == unix.RLIM_INFINITY {
		return 0, true, nil
	}
	return uint64(rl.Cur), false, nil
}

// Room is how many more bytes this process may lock: Limit less what is locked
// now. After Lock, with MCL_FUTURE, every mapping the process makes counts
// against it, touched or not; a mapping that would go past it fails.
func Room() (n uint64, unlimited bool, err error) {
	limit, unlimited, err := Limit()
	if err != nil || unlimited {
		return 0, unlimited, err
	}
	locked, err := Locked()
	if err != nil {
		return 0, false, err
	}
	return limit - min(locked, limit), false, nil
}

// Locked is how many bytes of the process's mappings are locked now (VmLck):
// after Lock, everything mapped, touched or not, the runtime's reservations
// included. It is what RLIMIT_MEMLOCK is counted against.
func Locked() (uint64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("memlock: %w", err)
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		rest, ok := bytes.CutPrefix(sc.Bytes(), []byte("VmLck:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			break
		}
		kb, err := strconv.ParseUint(string(f[0]), 10, 64)
		if err != nil {
			break
		}
		return kb << 10, nil
	}
	return 0, fmt.Errorf("memlock: no VmLck in /proc/self/status")
}
