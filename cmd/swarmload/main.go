// Command swarmload is swarmlight's own UDP load tool: it announces many peers from
// many loopback addresses to a tracker on this machine (BEP 15), and measures what
// that costs a tracker process.
//
//	swarmload fill   --target 127.0.0.1:PORT --torrents T --peers P   one load
//	swarmload memory [--binary bin/swarmlight] [--against opentracker]  memory benchmark
//	swarmload rate   [--binary bin/swarmlight] [--against opentracker]  throughput benchmark
//
// Torrent i's info-hash is SHA-1("swarmload-" + i in decimal). Peer j announces
// torrent j%T from source address 127.a.b.c number j/1000 and port 10000+j%1000.
// Only loopback targets are accepted.
//
// Exit status: 0 done, 1 failed (or some announces failed, for fill), 2 bad usage.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() { os.Exit(runMain(os.Args[1:], os.Stdout, os.Stderr)) }

// runMain is the whole command minus the process, so tests can drive it.
func runMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageError(stderr, errors.New("swarmload: name a command: fill, memory or rate"))
	}
	cmd, args := args[0], args[1:]
	var err error
	switch cmd {
	case "fill":
		err = fillCmd(args, stdout, stderr)
	case "memory":
		err = memoryCmd(args, stdout, stderr)
	case "rate":
		err = rateCmd(args, stdout, stderr)
	case "help", "-h", "--help":
		io.WriteString(stdout, usage)
		return exitOK
	default:
		return usageError(stderr, fmt.Errorf("swarmload: unknown command %q", cmd))
	}
	var ue usageErr
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, pflag.ErrHelp):
		io.WriteString(stdout, usage)
		return exitOK
	case errors.As(err, &ue):
		return usageError(stderr, err)
	default:
		fmt.Fprintln(stderr, err)
		return exitFail
	}
}

const usage = `Usage:
  swarmload fill --target 127.0.0.1:PORT --torrents T --peers P [flags]
      announce peers 0..P-1 once each (event started) to a running tracker
  swarmload memory [--binary bin/swarmlight] [--against opentracker] [--loads LIST] [--runs N]
      start each tracker afresh for each load and report its memory (BENCHMARKS.md)
  swarmload rate [--binary bin/swarmlight] [--against opentracker] [--runs N]
      steady re-announces: announces per second and tracker CPU time per announce

Common flags:
  --window N      requests in flight across all sockets (default 128)
  --sockets N     source sockets open at once (default 8)
  --numwant N     peers asked for in each announce (default 50)
  --timeout D     bound on one fill or run (fill default 10m)

Torrent i's info-hash is SHA-1("swarmload-" + decimal i). Peer j announces torrent
j%T from 127.a.b.c number j/1000, port 10000+j%1000. Targets must be IPv4 loopback.
`

// usageErr marks a bad command line: exit status 2 and the usage.
type usageErr struct{ error }

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "%v\n\n%s", err, usage)
	return exitUsage
}

// loadFlags are the flags every command shares: how hard to push.
type loadFlags struct {
	window, sockets int
	numWant         int32
	timeout         time.Duration
}

func (lf *loadFlags) register(fs *pflag.FlagSet, timeout time.Duration, sockets int) {
	fs.IntVar(&lf.window, "window", defaultWindow, "requests in flight across all sockets")
	fs.IntVar(&lf.sockets, "sockets", sockets, "source sockets open at once")
	fs.Int32Var(&lf.numWant, "numwant", defaultNumWant, "peers asked for in each announce")
	fs.DurationVar(&lf.timeout, "timeout", timeout, "bound on one fill or run")
}

func newFlagSet(name string) *pflag.FlagSet {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard) // the usage above covers every command
	fs.Usage = func() {}
	return fs
}

// parse parses args and refuses stray arguments.
func parse(fs *pflag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return err
		}
		return usageErr{fmt.Errorf("swarmload %s: %w", fs.Name(), err)}
	}
	if fs.NArg() > 0 {
		return usageErr{fmt.Errorf("swarmload %s: unexpected argument %q", fs.Name(), fs.Arg(0))}
	}
	return nil
}

func fillCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("fill")
	var lf loadFlags
	lf.register(fs, 10*time.Minute, defaultSockets)
	target := fs.String("target", "", "tracker's UDP address, 127.x.y.z:PORT")
	torrents := fs.Int("torrents", 0, "torrents")
	peers := fs.Int("peers", 0, "peers")
	if err := parse(fs, args); err != nil {
		return err
	}
	ap, err := parseTarget(*target)
	if err != nil {
		return usageErr{err}
	}
	sp := spec{target: ap, torrents: *torrents, peers: *peers, rounds: 1, event: eventStarted,
		numWant: lf.numWant, window: lf.window, sockets: lf.sockets, timeout: lf.timeout,
		rto: defaultRTO, tries: defaultTries}
	if err := sp.check(); err != nil {
		return usageErr{err}
	}
	fmt.Fprintf(stdout, "command: %s\n", shellJoin(append([]string{"swarmload", "fill"}, args...)))
	res, err := run(sp, infoHashes(sp.torrents))
	printResult(stdout, &res)
	if err != nil {
		return err
	}
	if res.failed > 0 {
		return fmt.Errorf("swarmload: fill: %d of %d announces failed", res.failed, res.announces)
	}
	return nil
}

func printResult(w io.Writer, r *result) {
	fmt.Fprintf(w, "announces %d, answered %d, failed %d, resent %d, in %.2f s: %.0f announces/s\n",
		r.announces, r.ok, r.failed, r.resent, r.elapsed.Seconds(), r.rate())
	if len(r.reasons) > 0 {
		fmt.Fprint(w, "failures:\n"+reasonsText(r.reasons))
	}
}

// commandLine is how this run was invoked, for the record under a table.
func commandLine(cmd string, args []string) string {
	return shellJoin(append([]string{"swarmload", cmd}, args...))
}
