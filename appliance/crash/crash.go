// Package crash makes a crashing tracker say nothing. A Go program that dies of
// a panic, a runtime error or a signal prints every goroutine's stack, with
// function arguments and leftover stack words in hex, and on SIGQUIT and SIGABRT
// (systemd's watchdog) the registers too. In a busy tracker those words hold peer
// addresses, ports and info-hashes, and stderr goes to the journal, on disk.
//
// GOTRACEBACK=none does not prevent it: the runtime prints signal and
// runtime-error tracebacks in full whatever the level, and debug.SetTraceback
// cannot go below the environment's level, "single" when unset. So Silence takes
// the runtime's own channel away instead: the runtime writes only to file
// descriptor 2, and Silence points that at /dev/null after handing the log a
// descriptor of its own to the same place stderr was.
package crash

import "os"

// Debugging reports whether GOTRACEBACK asks for tracebacks: a developer chasing a
// hang who runs GOTRACEBACK=all gets the dump, and a core with GOTRACEBACK=crash.
// The systemd unit sets GOTRACEBACK=none.
func Debugging() bool {
	switch os.Getenv("GOTRACEBACK") {
	case "", "none", "0":
		return false
	}
	return true
}
