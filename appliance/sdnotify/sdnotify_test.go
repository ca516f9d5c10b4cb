package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// systemd listens on a unix datagram socket: so does the test.
func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	for _, msg := range []string{Ready, Watchdog, Stopping} {
		sent, err := Notify(msg)
		if !sent || err != nil {
			t.Fatalf("Notify(%q) = %v, %v", msg, sent, err)
		}
		buf := make([]byte, 64)
		_ = l.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := l.ReadFromUnix(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Errorf("systemd got %q, %v; want %q", buf[:n], err, msg)
		}
	}
}

func TestNotifyOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	if sent, err := Notify(Ready); sent || err != nil {
		t.Errorf("outside systemd: %v, %v; want nothing sent and no error", sent, err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	self := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
		ok        bool
	}{
		{"30000000", "", 15 * time.Second, true},
		{"30000000", self, 15 * time.Second, true},
		{"30000000", "1", 0, false}, // meant for another process
		{"", "", 0, false},
		{"junk", "", 0, false},
		{"-5", "", 0, false},
	} {
		t.Setenv("WATCHDOG_USEC", tc.usec)
		t.Setenv("WATCHDOG_PID", tc.pid)
		if got, ok := WatchdogInterval(); got != tc.want || ok != tc.ok {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v, want %v %v", tc.usec, tc.pid, got, ok, tc.want, tc.ok)
		}
	}
}
