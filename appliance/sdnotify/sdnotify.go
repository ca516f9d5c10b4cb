// Package sdnotify tells systemd how the service is doing (sd_notify(3)): ready,
// still alive (the watchdog), reloading, stopping. It is the few lines the protocol
// takes: one datagram of "KEY=VALUE" lines to the socket systemd names in
// NOTIFY_SOCKET. Outside systemd every call does nothing.
package sdnotify

import (
	"net"
	"os"
	"strconv"
	"time"
)

// Messages the appliance sends.
const (
	Ready     = "READY=1"
	Reloading = "RELOADING=1"
	Stopping  = "STOPPING=1"
	Watchdog  = "WATCHDOG=1"
)

// Notify sends state to systemd. It reports whether anything was sent: false, with
// no error, when the process does not run under a systemd that asked for it.
func Notify(state string) (bool, error) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return false, nil
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	c, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer c.Close()
	if _, err := c.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}

// WatchdogInterval is how often to send Watchdog: half the interval systemd
// enforces (WatchdogSec=), so one late ping is not fatal. ok is false when no
// watchdog is set for this process.
func WatchdogInterval() (d time.Duration, ok bool) {
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	if err != nil || usec <= 0 {
		return 0, false
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false
	}
	return time.Duration(usec) * time.Microsecond / 2, true
}
