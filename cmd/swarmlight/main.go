// Command swarmlight is the LAN BitTorrent tracker appliance.
//
// Exit status: 0 on a clean stop, 1 on a runtime failure, 2 on bad usage and 78
// (EX_CONFIG) on a configuration problem, which systemd's
// RestartPreventExitStatus=78 keeps from restart-looping.
package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/swarmlight/swarmlight/appliance"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/crash"
	"github.com/swarmlight/swarmlight/appliance/memlock"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/hw/sim"
)

// version is stamped at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const (
	exitOK     = 0
	exitFail   = 1
	exitUsage  = 2
	exitConfig = 78 // EX_CONFIG from sysexits.h
)

func main() {
	// First, before anything can crash holding a peer's data: from here on a
	// crash writes nothing and leaves no core; the log goes where stderr went.
	stderr, err := crash.Silence()
	if err != nil {
		fmt.Fprintf(stderr, "swarmlight: crash output not silenced: %v\n", err)
	}
	os.Exit(run(os.Args[1:], os.Stdout, stderr))
}

// run is the whole command, minus the process: it returns the exit status so tests
// can drive it.
func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(args, stdout, stderr)
	case "check-config":
		return checkConfig(args, stdout, stderr)
	case "panel":
		return renderPanel(args, stdout, stderr)
	case "list":
		return listCmd(args, stdout, stderr)
	case "key":
		return keyCmd(args, stdout, stderr)
	case "reload":
		return reloadCmd(args, stdout, stderr)
	case "catalog":
		return catalogCmd(args, stdout, stderr)
	case "torrent":
		return torrentCmd(args, stdout, stderr)
	case "status":
		return statusCmd(args, stdout, stderr)
	case "version":
		if len(args) > 0 {
			return usageError(stderr, fmt.Sprintf("version takes no arguments, got %q", args[0]))
		}
		fmt.Fprintf(stdout, "swarmlight %s\n", version)
		return exitOK
	case "help":
		printUsage(stdout)
		return exitOK
	default:
		return usageError(stderr, fmt.Sprintf("unknown command %q", cmd))
	}
}

// serve runs the tracker until SIGINT or SIGTERM.
func serve(args []string, stdout, stderr io.Writer) int {
	cfg, fs, status, ok := loadConfig("serve", args, stdout, stderr)
	if !ok {
		return status
	}
	level := new(slog.LevelVar)
	level.Set(cfg.Log.Level)
	// A reload changes the level and the format of every logger made from it.
	logHandler := appliance.NewLogHandler(stderr, cfg.Log.Format, level)
	log := slog.New(logHandler)
	// SIGHUP (systemd's ExecReload) reloads the configuration from the same
	// sources: the file, the environment, the flags given at start.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// Once stopping, give the signals back: a second Ctrl-C then kills a
		// shutdown that hangs instead of being swallowed.
		<-ctx.Done()
		stop()
	}()

	err := appliance.Run(ctx, cfg, log, appliance.Options{
		Stdout:       stdout,
		Hangup:       hup,
		Reload:       func() (config.Config, error) { return config.Load(config.Options{Flags: fs}) },
		Level:        level,
		LogHandler:   logHandler,
		Version:      version,
		LockMemory:   memlock.Lock,
		UnlockMemory: memlock.Unlock,
	})
	switch {
	case err == nil:
		return exitOK
	case config.IsConfigError(err):
		fmt.Fprintln(stderr, err)
		return exitConfig
	default:
		fmt.Fprintf(stderr, "swarmlight: %v\n", err)
		return exitFail
	}
}

// checkConfig validates the configuration, tries to bind its addresses and prints the
// configuration in effect as YAML, which loads back as a config file. What the YAML
// cannot say, such as the byte budget swarm.max_memory: auto comes to on this
// machine, is in a comment under its key ("# effective: 171 MiB (40% of ...)"), as
// is whether memory can be locked here, under process.lock_memory.
func checkConfig(args []string, stdout, stderr io.Writer) int {
	cfg, _, status, ok := loadConfig("check-config", args, stdout, stderr)
	if !ok {
		return status
	}
	if err := config.CheckListen(cfg); err != nil {
		fmt.Fprintln(stderr, err)
		return exitConfig
	}
	out := noteUnder(cfg.YAML(), "process", "lock_memory", appliance.MemoryLockNote(cfg))
	// What a reload cannot always apply is named under its key.
	for key, note := range appliance.RestartNotes() {
		section, leaf, _ := strings.Cut(key, ".")
		out = noteUnder(out, section, leaf, note)
	}
	fmt.Fprint(stdout, out)
	return exitOK
}

// noteUnder adds "# note" as a line of its own under section.leaf in yaml, as
// check-config prints it (one section line, then its keys indented by two).
func noteUnder(yaml, section, leaf, note string) string {
	sec := strings.Index("\n"+yaml, "\n"+section+":\n")
	if sec < 0 {
		return yaml
	}
	key := strings.Index(yaml[sec:], "\n  "+leaf+": ")
	if key < 0 {
		return yaml
	}
	end := sec + key + 1
	if n := strings.IndexByte(yaml[end:], '\n'); n >= 0 {
		end += n + 1
	} else {
		end, yaml = len(yaml)+1, yaml+"\n"
	}
	return yaml[:end] + "  # " + note + "\n" + yaml[end:]
}

// renderPanel writes each display page, for a made-up busy tracker or, with
// --from URL, for the running tracker there, as a PNG the way the simulated
// display shows it: to see the pages without the hardware.
func renderPanel(args []string, stdout, stderr io.Writer) int {
	dir, from := "", ""
	var rest []string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "--png" && i+1 < len(args):
			dir = args[i+1]
			i++
		case strings.HasPrefix(a, "--png="):
			dir = strings.TrimPrefix(a, "--png=")
		case a == "--from" && i+1 < len(args):
			from = args[i+1]
			i++
		case strings.HasPrefix(a, "--from="):
			from = strings.TrimPrefix(a, "--from=")
		default:
			rest = append(rest, a)
		}
	}
	if dir == "" {
		return usageError(stderr, "panel needs --png DIR, the folder to write the pages to")
	}
	cfg, _, status, ok := loadConfig("panel", rest, stdout, stderr)
	if !ok {
		return status
	}
	view := panel.Demo(cfg.Panel.Name)
	if from != "" {
		// Fetched before anything is written: a box that does not answer
		// leaves DIR as it was.
		u, err := statsURL(from)
		if err != nil {
			return usageError(stderr, "panel --from: "+err.Error())
		}
		if view, err = liveView(u, cfg.Panel.Name); err != nil {
			fmt.Fprintf(stderr, "swarmlight: panel: %v\n", err)
			return exitFail
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintf(stderr, "swarmlight: panel: %v\n", err)
		return exitFail
	}
	bounds := image.Rect(0, 0, 128, cfg.Panel.DisplayHeight)
	for page := range panel.NumPages {
		path := filepath.Join(dir, fmt.Sprintf("page-%d.png", page+1))
		d := sim.NewDisplay(bounds.Dx(), bounds.Dy(), path)
		if err := d.Draw(panel.Render(page, view, bounds)); err != nil {
			fmt.Fprintf(stderr, "swarmlight: panel: %v\n", err)
			return exitFail
		}
		fmt.Fprintln(stdout, path)
	}
	return exitOK
}

// loadConfig parses the flags and loads the configuration; the flag set is kept for
// reloads. When ok is false the problem is printed and status is the exit status to
// return.
func loadConfig(cmd string, args []string, stdout, stderr io.Writer) (cfg config.Config, fs *pflag.FlagSet, status int, ok bool) {
	fs = pflag.NewFlagSet(cmd, pflag.ContinueOnError)
	// Quiet pflag: it would print its own usage; ours covers every command.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	config.RegisterFlags(fs)

	err := fs.Parse(args)
	switch {
	case errors.Is(err, pflag.ErrHelp):
		printUsage(stdout)
		return cfg, fs, exitOK, false
	case err != nil:
		return cfg, fs, usageError(stderr, err.Error()), false
	case fs.NArg() > 0:
		msg := fmt.Sprintf("unexpected argument %q", fs.Arg(0))
		if fs.Arg(0) == "true" || fs.Arg(0) == "false" {
			msg += " (give a boolean flag its value with =, as in --tracker.full_scrape=false)"
		}
		return cfg, fs, usageError(stderr, msg), false
	}

	cfg, err = config.Load(config.Options{Flags: fs})
	if err != nil {
		fmt.Fprintln(stderr, err) // one problem per line
		return cfg, fs, exitConfig, false
	}
	return cfg, fs, exitOK, true
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "swarmlight: %s\n\n", msg)
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fs := pflag.NewFlagSet("swarmlight", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	fmt.Fprintf(w, `Usage:
  swarmlight [serve] [flags]      run the tracker until SIGINT or SIGTERM (the default)
  swarmlight check-config [flags] check the configuration and that its addresses are free,
                                  then print it as YAML, with the peer store's effective
                                  memory budget in a comment
  swarmlight panel --png DIR [--from URL] [flags]
                                  write each display page as PNG, for a demo state, or
                                  with --from for the running tracker at URL (its page,
                                  e.g. http://swarmlight.local:6969/)
  swarmlight list add|remove ARG... [--deny] [flags]
                                  add to or remove from access.allow_file (with --deny,
                                  access.deny_file) each ARG: an info-hash, a magnet link
                                  or a .torrent file (a hybrid one adds both its hashes),
                                  then tell a running tracker to reload
  swarmlight list show [--deny] [flags]
                                  print the list's info-hashes and how many there are
  swarmlight key add LABEL [flags]
                                  make a passkey for a member, print it once with the
                                  member's announce URLs, keep only its hash in
                                  access.key_file, and tell a running tracker
  swarmlight key list [flags]     print the members' labels and how many there are
  swarmlight key revoke LABEL [flags]
                                  remove the member's key, and tell a running tracker
  swarmlight catalog add FILE.torrent [flags]
                                  put a torrent on the shelf in catalog.dir (checked as an
                                  upload is), then tell a running tracker
  swarmlight catalog list [flags] print the shelf: hash, size and name of each torrent
  swarmlight catalog remove NAME|HASH [flags]
                                  take a torrent off the shelf, and tell a running tracker
  swarmlight torrent create PATH [-o FILE] [--private] [--announce URL]... [--add] [flags]
                                  hash a file or folder into FILE (default PATH.torrent),
                                  announcing to this box's HTTP and UDP URLs or the given
                                  ones; --add also puts it on the shelf
  swarmlight reload [flags]       check the configuration and tell the running tracker to
                                  apply it (SIGHUP, as systemctl reload swarmlight)
  swarmlight status [URL] [flags] print a running tracker's figures from its /stats.json:
                                  URL is its page (default: this configuration's, on
                                  127.0.0.1 when http.listen is a wildcard)
  swarmlight version              print the version
  swarmlight help                 print this help

Each setting comes from, highest first: its flag, its environment variable
(%s plus the key in capitals with dots as underscores, e.g. %s),
the config file, or its default. Lists are comma or space separated.

Flags:
%s
Exit status: 0 stopped cleanly, 1 failed, 2 bad usage, 78 configuration problem.
`, config.EnvPrefix, config.EnvName("tracker.interval"), fs.FlagUsages())
}
