package crash

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/swarmlight/swarmlight/appliance/internal/reexec"
)

// helperEnv makes the test binary, run again, be the process that crashes.
const helperEnv = "CRASH_TEST_HELPER"

// secret stands for peer data: an argument of the frame that is running when the
// process dies, so any traceback prints it as a hex word.
const secret uint64 = 0x820a4d00007f

func TestMain(m *testing.M) {
	if how := os.Getenv(helperEnv); how != "" {
		crashHelper(how)
		return
	}
	os.Exit(m.Run())
}

// crashHelper silences crashes, says so in its log, and dies as told.
func crashHelper(how string) {
	stderr, err := Silence()
	dumpable, _ := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	fmt.Fprintf(stderr, "log: silenced err=%v dumpable=%d\n", err, dumpable)
	switch how {
	case "panic":
		done := make(chan bool)
		go func() { hold(secret, func() { panic(fmt.Sprintf("peer %#x", secret)) }); done <- true }()
		<-done
	case "signal":
		fmt.Println("ready") // the test sends the signal now
		hold(secret, func() { time.Sleep(time.Minute) })
	case "hung":
		// Every thread busy for good, as in a tracker the watchdog gives up on.
		for range runtime.GOMAXPROCS(0) {
			go func() {
				for {
				}
			}()
		}
		fmt.Println("ready")
		hold(secret, func() {
			for {
			}
		})
	case "deadlock":
		hold(secret, func() { select {} })
	}
}

//go:noinline
func hold(word uint64, f func()) {
	f()
	fmt.Fprint(os.Stderr, word)
}

// TestSilence runs a process that calls Silence and then dies the ways a tracker
// can: a panic on a goroutine, SIGQUIT, SIGABRT (systemd's watchdog), also when
// every thread is stuck in a loop, a fatal runtime error. Its log must come
// through; nothing else may, and it must not be dumpable. With GOTRACEBACK=all,
// asked for on purpose, the dump is there: that is also the control that shows
// the helper really leaves a secret on its stack.
func TestSilence(t *testing.T) {
	tests := []struct {
		name        string
		how         string
		sig         syscall.Signal
		gotraceback string
		wantDump    bool
	}{
		{name: "panic", how: "panic"},
		{name: "SIGQUIT", how: "signal", sig: syscall.SIGQUIT},
		{name: "SIGABRT", how: "signal", sig: syscall.SIGABRT},
		{name: "SIGABRT with GOTRACEBACK=none", how: "signal", sig: syscall.SIGABRT, gotraceback: "none"},
		{name: "SIGABRT to a hung process", how: "hung", sig: syscall.SIGABRT, gotraceback: "none"},
		{name: "deadlock", how: "deadlock"},
		{name: "GOTRACEBACK=all keeps the dump", how: "signal", sig: syscall.SIGQUIT, gotraceback: "all", wantDump: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.how == "deadlock" && raceEnabled {
				t.Skip("the race detector's runtime never reports a deadlock")
			}
			cmd := reexec.Command(t, helperEnv+"="+tt.how, "GOTRACEBACK="+tt.gotraceback)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if tt.sig != 0 {
				if _, err := bufio.NewReader(stdout).ReadString('\n'); err != nil {
					t.Fatalf("helper never ready: %v", err)
				}
				time.Sleep(50 * time.Millisecond) // into hold
				if err := cmd.Process.Signal(tt.sig); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done // stderr is written until the process is gone
				t.Fatalf("still running; stderr:\n%s", &stderr)
			}
			if err == nil {
				t.Fatalf("exited 0, want a crash; stderr:\n%s", &stderr)
			}
			out := stderr.String()
			dumped := strings.Contains(out, "goroutine ") || strings.Contains(out, fmt.Sprintf("%x", secret))
			switch {
			case tt.wantDump && !dumped:
				t.Fatalf("no dump although GOTRACEBACK=all asks for one:\n%s", out)
			case tt.wantDump:
				return
			}
			if want := "log: silenced err=<nil> dumpable=0\n"; out != want {
				t.Errorf("stderr %q, want only the log line %q", out, want)
			}
		})
	}
}
