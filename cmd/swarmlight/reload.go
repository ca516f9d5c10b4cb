package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
)

// reloadCmd checks the configuration and asks every running tracker to apply it,
// as SIGHUP (systemctl reload swarmlight) does.
func reloadCmd(args []string, stdout, stderr io.Writer) int {
	if _, _, status, ok := loadConfig("reload", args, stdout, stderr); !ok {
		return status
	}
	return signalTrackers(stdout, stderr)
}

// signalTrackers sends SIGHUP to every running "swarmlight serve" of this same
// executable and says how many it reached. It is belt and braces after an edit:
// a tracker also sees its list and key files change by itself.
func signalTrackers(stdout, stderr io.Writer) int {
	pids, err := runningTrackers()
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: finding the running tracker: %v\n", err)
		return exitFail
	}
	status, n := exitOK, 0
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			fmt.Fprintf(stderr, "swarmlight: signalling the tracker (process %d): %v; try sudo, or systemctl reload swarmlight\n", pid, err)
			status = exitFail
			continue
		}
		n++
	}
	switch {
	case n == 1:
		fmt.Fprintln(stdout, "signalled the running tracker to reload")
	case n > 1:
		fmt.Fprintf(stdout, "signalled %d running trackers to reload\n", n)
	case len(pids) == 0:
		fmt.Fprintln(stdout, "no running tracker found; one that starts reads the files then")
	}
	return status
}

// runningTrackers finds the processes that run this executable as "serve" (or
// with no command, which means serve), other than this one.
func runningTrackers() ([]int, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("reload: this executable: %w", err)
	}
	selfInfo, _ := os.Stat(self)
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, fmt.Errorf("reload: %w", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		dir := "/proc/" + e.Name()
		exe, err := os.Readlink(dir + "/exe")
		if err != nil {
			continue // gone, or not ours to look at
		}
		// After an upgrade the running tracker's executable is the replaced file.
		same := strings.TrimSuffix(exe, " (deleted)") == self
		if !same && selfInfo != nil {
			fi, err := os.Stat(dir + "/exe")
			same = err == nil && os.SameFile(fi, selfInfo)
		}
		if !same {
			continue
		}
		cmdline, err := os.ReadFile(dir + "/cmdline")
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
		if len(argv) > 0 && isServe(argv[1:]) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// isServe says whether run would take args as the serve command.
func isServe(args []string) bool {
	return len(args) == 0 || strings.HasPrefix(args[0], "-") || args[0] == "serve"
}

// splitArgs separates a command's own arguments from the flags it shares with
// serve, so that loadConfig sees only those: the operands (hashes, labels) in
// order, and which of own, the command's boolean flags, were given.
func splitArgs(args []string, own ...string) (flags, operands []string, set map[string]bool, err error) {
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	set = map[string]bool{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			return flags, append(operands, args[i+1:]...), set, nil
		}
		if len(a) < 2 || a[0] != '-' {
			operands = append(operands, a)
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if isOwn(name, own) {
			if hasValue {
				return nil, nil, nil, fmt.Errorf("--%s takes no value", name)
			}
			set[name] = true
			continue
		}
		flags = append(flags, a)
		// A flag that takes a value and was not given one with = takes the next
		// argument, which is then no operand.
		if f := fs.Lookup(name); f != nil && !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			flags = append(flags, args[i+1])
			i++
		}
	}
	return flags, operands, set, nil
}

func isOwn(name string, own []string) bool {
	for _, o := range own {
		if name == o {
			return true
		}
	}
	return false
}

// editStatus is the exit status for an error of an edit: bad input (one of usage)
// is bad usage, a broken file or a missing directory is a configuration problem,
// anything else (a full disk, no permission) a failure.
func editStatus(err error, usage ...error) int {
	for _, u := range usage {
		if errors.Is(err, u) {
			return exitUsage
		}
	}
	var le *access.LineError
	if errors.As(err, &le) || errors.Is(err, access.ErrNoDirectory) {
		return exitConfig
	}
	return exitFail
}
