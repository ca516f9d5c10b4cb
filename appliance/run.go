// Package appliance wires the tracker together: it binds the listeners, builds the
// swarm store and the tracker, serves until told to stop, and shuts down in order.
package appliance

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/httptracker"
	"github.com/swarmlight/swarmlight/appliance/sdnotify"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/appliance/udptracker"
	"github.com/swarmlight/swarmlight/hw/clock"
)

// shutdownGrace bounds how long in-flight requests may take once asked to stop;
// with start-up and exit it keeps a stop well inside systemd's and the CLI's 5 s.
const shutdownGrace = 3 * time.Second

// statsEvery is how often the aggregate counts are logged.
const statsEvery = 10 * time.Minute

// refusalsEvery is how often refusals are logged, counted by reason, while there
// are any: soon enough to watch a problem as it happens, and a flood costs the
// journal one line per interval.
const refusalsEvery = 10 * time.Second

// Options are what Run needs besides the configuration.
type Options struct {
	// Stdout gets the announce URLs, one per line, once the tracker listens, and
	// those of addresses a reload adds.
	Stdout io.Writer
	// Hangup asks for a reload (SIGHUP, systemd's ExecReload): Run calls Reload
	// and applies the configuration it returns. Either may be nil.
	Hangup <-chan os.Signal
	Reload func() (config.Config, error)
	// Level is the logger's level, and LogHandler the logger's handler, whose
	// format a reload changes. Either may be nil; a reload then leaves that be.
	Level      *slog.LevelVar
	LogHandler *LogHandler
	// LockMemory locks the process's memory into RAM (memlock.Lock), when
	// process.lock_memory is on, and UnlockMemory (memlock.Unlock) undoes it when
	// a reload turns it off. Tests that run the tracker inside a shared test
	// process leave them nil.
	LockMemory, UnlockMemory func() error
	// Version is the build's version, which the status page shows.
	Version string
}

// Run serves until ctx is done, then stops accepting, finishes in-flight requests and
// returns nil. Every listener is bound before anything else starts; a listener that
// cannot be bound is returned as a *config.KeyError naming the key (exit 78). Once
// listening it logs "listening" (info) for each listener, writes the announce URLs
// to o.Stdout and tells systemd it is ready. A hangup applies the configuration
// o.Reload returns, whole and without emptying a swarm, or none of it (reload).
//
// The tracker is a list of components (component.go), started in order and
// stopped in reverse; the next part of the appliance is one more line in it.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) error {
	stdout := o.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	httpLs, err := bindHTTP(cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	udpLs, err := bindUDP(cfg.UDP.Listen, udpListenConfig(cfg))
	if err != nil {
		closeAll(mapValues(httpLs))
		return err
	}

	problems := &problemList{}
	store := swarm.New(StoreOpts(cfg), clock.Real{})
	acc := access.New()
	trk := tracker.New(trackerConfig(cfg), store, acc)
	usrv, err := udptracker.New(udpConfig(cfg), trk, log, clock.Real{})
	if err != nil {
		store.Close()
		closeAll(mapValues(httpLs))
		closeAll(mapValues(udpLs))
		return err
	}
	served := make(chan error, 16)
	hf := &httpFront{srv: httptracker.New(httpConfig(cfg), trk, log), log: log, served: served,
		addrs: slices.Clone(cfg.HTTP.Listen), ls: httpLs}
	uf := &udpFront{srv: usrv, log: log, served: served, lc: udpListenConfig(cfg),
		addrs: slices.Clone(cfg.UDP.Listen), ls: udpLs}
	urls := func() []string {
		return append(announceURLs("http", hf.netAddrs()), announceURLs("udp", uf.netAddrs())...)
	}
	if testHookRun != nil {
		testHookRun(trk)
	}
	pp := &panelPart{cfg: cfg.Panel, urls: urls, trk: trk, problems: problems, log: log}
	cp := newCatalogPart(cfg, acc, urls, log)
	// Started in this order and stopped in the reverse: memory is locked before
	// the store holds a peer, and the fronts stop before what they ask.
	parts := []component{
		logPart{o},
		&memoryPart{o: o, cfg: cfg, log: log, problems: problems},
		storePart{store, log},
		// The last counts, once the fronts have stopped and before the store
		// lets go of its peers.
		stopHook(func() {
			trk.Refusals().Log(log)
			logStats(log, trk.Stats(), usrv.Stats(), hf.srv.Stats(), pp.Panics())
		}),
		&accessPart{acc: acc, opts: accessOpts(cfg), log: log, problems: problems},
		trackerPart{trk},
		// Before the fronts, so listed mode tracks the shelf from the first
		// announce, and before the page's server, which asks it what to show.
		cp,
		hf,
		uf,
		pp,
		// After the fronts, the shelf and the panel, whose state it shows.
		&webPart{cfg: cfg.Web, hf: hf, uf: uf, trk: trk, acc: acc, pp: pp, cp: cp, urls: urls,
			version: o.Version, problems: problems},
		&mdnsPart{cfg: cfg, http: hf.netAddrs, log: log},
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	for i, p := range parts {
		if err := p.start(ctx); err != nil {
			for j := i - 1; j >= 0; j-- {
				parts[j].stop(ctx)
			}
			return fmt.Errorf("start: %w", err)
		}
	}
	shown := urls()
	for _, u := range shown {
		fmt.Fprintln(stdout, u)
	}
	notify(log, sdnotify.Ready)
	var watchdog <-chan time.Time
	if every, ok := sdnotify.WatchdogInterval(); ok {
		// Pinged from the loop below: if the loop ever stops turning, systemd
		// notices and restarts the tracker.
		wd := time.NewTicker(every)
		defer wd.Stop()
		watchdog = wd.C
	}
	log.Info("started", "torrents_max", cfg.Swarm.MaxTorrents, "peers_max", cfg.Swarm.MaxPeers,
		"memory_max", cfg.Swarm.MaxMemory)

	var serveErr error
	tick := time.NewTicker(statsEvery)
	defer tick.Stop()
	refusalsTick := time.NewTicker(refusalsEvery)
	defer refusalsTick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-served:
			if err != nil {
				serveErr = fmt.Errorf("serve: %w", err)
				break loop
			}
		case <-tick.C:
			logStats(log, trk.Stats(), usrv.Stats(), hf.srv.Stats(), pp.Panics())
		case <-refusalsTick.C:
			trk.Refusals().Log(log)
		case <-watchdog:
			notify(log, sdnotify.Watchdog)
		case <-o.Hangup:
			if reload(log, parts, o, problems) {
				shown = printNew(stdout, shown, urls())
			}
		}
	}

	log.Info("stopping")
	notify(log, sdnotify.Stopping)
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	for i := len(parts) - 1; i >= 0; i-- {
		parts[i].stop(sctx)
	}
	log.Info("stopped")
	return serveErr
}

// reload applies the configuration o.Reload returns, whole or not at all: a bad
// one, or one with an address that cannot be bound, changes nothing, is logged,
// and shows on the panel (the error LED) until a good one is loaded. It reports
// whether it applied one.
func reload(log *slog.Logger, parts []component, o Options, problems *problemList) bool {
	if o.Reload == nil {
		log.Warn("reload: not available; restart to apply configuration changes")
		return false
	}
	notify(log, sdnotify.Reloading)
	defer notify(log, sdnotify.Ready)
	next, err := o.Reload()
	if err != nil {
		log.Error("reload: the new configuration has problems; keeping the running one", "err", err)
		problems.setReload("config reload failed")
		return false
	}
	changes := make([]change, 0, len(parts))
	for _, p := range parts {
		c, err := p.reload(next)
		if err != nil {
			for _, c := range changes {
				if c.cancel != nil {
					c.cancel()
				}
			}
			log.Error("reload: the new configuration cannot be applied; keeping the running one", "err", err)
			problems.setReload("config reload failed")
			return false
		}
		changes = append(changes, c)
	}
	problems.setReload("")
	var restart []string
	for _, c := range changes {
		if c.commit != nil {
			restart = append(restart, c.commit()...)
		}
	}
	log.Info("reload: configuration reloaded", "log_level", next.Log.Level.String(), "log_format", next.Log.Format)
	if len(restart) > 0 {
		log.Warn("reload: restart to apply the rest", "needs_restart", strings.Join(restart, ","))
	}
	return true
}

// printNew writes the URLs in now that were not in shown, and returns now.
func printNew(w io.Writer, shown, now []string) []string {
	for _, u := range now {
		if !slices.Contains(shown, u) {
			fmt.Fprintln(w, u)
		}
	}
	return now
}

// notify tells systemd, and logs (once per kind of message is plenty) if it cannot.
func notify(log *slog.Logger, state string) {
	if _, err := sdnotify.Notify(state); err != nil {
		log.Warn("systemd notify failed", "state", state, "err", err)
	}
}

func closeAll[C io.Closer](cs []C) {
	for _, c := range cs {
		c.Close()
	}
}

// logStats logs aggregate counts only: nothing that identifies a peer or a torrent.
// "panics" is how many panics the UDP workers, the store's cleaner and the panel
// (panelPanics) recovered from.
func logStats(log *slog.Logger, st tracker.Stats, us udptracker.Stats, hs httptracker.Stats, panelPanics uint64) {
	log.Info("stats",
		"torrents", st.Swarm.Torrents, "peers", st.Swarm.Peers, "seeders", st.Swarm.Seeders,
		"announces", st.Announces, "scrapes", st.Scrapes, "refused", st.Refused,
		"retained", st.Swarm.Retained, "memory", st.Swarm.Memory,
		"cap_hits", st.Swarm.CapTorrents+st.Swarm.CapPeers+st.Swarm.CapSwarm+st.Swarm.CapMemory,
		"quota_hits", st.Swarm.QuotaTorrents+st.Swarm.QuotaPeers,
		"udp_packets", us.Packets, "udp_dropped", us.Dropped, "udp_bad_conn_id", us.BadConnID, "udp_limited", us.Limited,
		"http_cap_refused", hs.CapRefused, "http_source_refused", hs.SourceRefused,
		"panics", us.Panics+st.Swarm.Panics+panelPanics)
}

// announceURLs lists the URLs a LAN client can use: for a wildcard address, one per
// address of this machine (LAN addresses first, loopback last).
func announceURLs(scheme string, addrs []net.Addr) []string {
	var urls []string
	for _, la := range addrs {
		ap, err := netip.ParseAddrPort(la.String())
		if err != nil {
			continue
		}
		port := strconv.Itoa(int(ap.Port()))
		addrs := []netip.Addr{ap.Addr().Unmap()}
		if ap.Addr().IsUnspecified() {
			addrs = LocalAddrs(ap.Addr().Is4())
		}
		for _, a := range addrs {
			urls = append(urls, scheme+"://"+net.JoinHostPort(a.String(), port)+"/announce")
		}
	}
	return urls
}

// LocalAddrs returns this machine's addresses that a URL can name: non-loopback ones
// first, then loopback; IPv6 link-local ones are left out (a URL cannot carry their
// zone portably). With only4, IPv6 addresses are left out too.
func LocalAddrs(only4 bool) []netip.Addr {
	ifaddrs, err := net.InterfaceAddrs()
	if err != nil {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}
	}
	var lan, loop []netip.Addr
	for _, ia := range ifaddrs {
		pfx, err := netip.ParsePrefix(ia.String())
		if err != nil {
			continue
		}
		a := pfx.Addr().Unmap()
		switch {
		case a.Is6() && (only4 || a.IsLinkLocalUnicast()):
		case a.IsLoopback():
			loop = append(loop, a)
		default:
			lan = append(lan, a)
		}
	}
	return append(lan, loop...)
}
