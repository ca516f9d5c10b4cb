package crash

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Silence makes a crash write nothing and leave no core, and returns the file
// the process's own output (its log, its error messages) goes to from now on:
// what stderr was. Call it first thing in main, before any peer data exists.
//
// It also marks the process not dumpable (PR_SET_DUMPABLE 0): no core file
// whatever the core limit, and no ptrace, /proc/PID/mem or /proc/PID/environ for
// other processes of the same user; root keeps what CAP_SYS_PTRACE gives it.
//
// Under Debugging it changes nothing. On error stderr is still usable: os.Stderr
// if nothing was moved.
func Silence() (stderr *os.File, err error) {
	if Debugging() {
		return os.Stderr, nil
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return os.Stderr, fmt.Errorf("crash: not dumpable: %w", err)
	}
	null, err := unix.Open(os.DevNull, unix.O_WRONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return os.Stderr, fmt.Errorf("crash: open %s: %w", os.DevNull, err)
	}
	defer unix.Close(null)
	logFD, err := unix.FcntlInt(2, unix.F_DUPFD_CLOEXEC, 3)
	if err != nil {
		return os.Stderr, fmt.Errorf("crash: duplicate stderr: %w", err)
	}
	if err := unix.Dup3(null, 2, 0); err != nil {
		unix.Close(logFD)
		return os.Stderr, fmt.Errorf("crash: point stderr at %s: %w", os.DevNull, err)
	}
	return os.NewFile(uintptr(logFD), "stderr"), nil
}
