// Package reexec runs a test binary again as a helper process, for tests of what
// only a whole process shows: how it dies, what it may lock. make test also runs
// the tests of appliance/ for ARM under qemu-user, where the binary is foreign to
// the host and cannot be started directly unless binfmt_misc knows it; the
// helper then runs through the same emulator, which the test, itself emulated,
// can start like any host program.
package reexec

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"testing"
)

var (
	probe    sync.Once
	emulator string // "" when the binary runs directly
	probeErr error
)

// Command returns a command that runs this test binary, running no tests, with
// env added to the environment: the binary's TestMain looks at env to become the
// helper.
func Command(t testing.TB, env ...string) *exec.Cmd {
	t.Helper()
	probe.Do(func() {
		err := exec.Command(os.Args[0], "-test.run=^$").Run()
		if errors.Is(err, syscall.ENOEXEC) {
			emulator, probeErr = exec.LookPath("qemu-" + qemuArch() + "-static")
		}
	})
	if probeErr != nil {
		t.Fatalf("this test binary cannot be started directly here, and no emulator can: %v", probeErr)
	}
	args := []string{os.Args[0], "-test.run=^$"}
	if emulator != "" {
		args = append([]string{emulator}, args...)
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

func qemuArch() string {
	if runtime.GOARCH == "arm64" {
		return "aarch64"
	}
	return runtime.GOARCH
}
