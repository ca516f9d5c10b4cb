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
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swarmlight/swarmlight/appliance/clock"
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/httptracker"
	"github.com/swarmlight/swarmlight/appliance/memlock"
	"github.com/swarmlight/swarmlight/appliance/panel"
	"github.com/swarmlight/swarmlight/appliance/sdnotify"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/appliance/udptracker"
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
	// Stdout gets the announce URLs, one per line, once the tracker listens.
	Stdout io.Writer
	// Hangup asks for a reload (SIGHUP, systemd's ExecReload): Run calls Reload
	// and applies what can change while running. Either may be nil.
	Hangup <-chan os.Signal
	Reload func() (config.Config, error)
	// Level is the logger's level, which a reload changes.
	Level *slog.LevelVar
	// LockMemory locks the process's memory into RAM (memlock.Lock), when
	// process.lock_memory is on. Tests that run the tracker inside a shared test
	// process leave it nil.
	LockMemory func() error
}

// Run serves until ctx is done, then stops accepting, finishes in-flight requests and
// returns nil. Every listener is bound before anything else starts; a listener that
// cannot be bound is returned as a *config.KeyError naming the key (exit 78). Once
// listening it logs "listening" (info) for each listener, writes the announce URLs
// to o.Stdout and tells systemd it is ready.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) error {
	stdout := o.Stdout
	if stdout == nil {
		stdout = io.Discard
	}
	listeners, err := listen(cfg.HTTP.Listen)
	if err != nil {
		return err
	}
	udpListeners, err := listenUDP(cfg.UDP)
	if err != nil {
		closeAll(listeners)
		return err
	}

	memProblem := lockMemory(cfg, o.LockMemory, memlock.Room, log)
	store := swarm.New(StoreOpts(cfg), clock.Real{})
	defer store.Close()
	trk := tracker.New(cfg.Tracker, store)
	srv := httptracker.New(cfg.HTTP, cfg.Tracker, trk, log)
	usrv, err := udptracker.New(cfg.Tracker, trk, log, clock.Real{})
	if err != nil {
		closeAll(listeners)
		closeAll(udpListeners)
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go store.Run(ctx, log)

	served := make(chan error, len(listeners)+len(udpListeners))
	for _, l := range listeners {
		go func() { served <- srv.Serve(l) }()
		log.Info("listening", "proto", "http", "addr", l.Addr().String())
	}
	udpDone := make(chan struct{})
	var udpServing sync.WaitGroup
	for _, l := range udpListeners {
		udpServing.Add(1)
		go func() {
			defer udpServing.Done()
			if err := usrv.Serve(l); err != nil {
				served <- err
			}
		}()
		log.Info("listening", "proto", "udp", "addr", l.Addr().String())
	}
	go func() { udpServing.Wait(); close(udpDone) }()
	urls := append(announceURLs("http", addrsOf(listeners)), announceURLs("udp", addrsOf(udpListeners))...)
	for _, u := range urls {
		fmt.Fprintln(stdout, u)
	}

	// The panel reads aggregate counts on its own goroutines; whatever its hardware
	// does, it cannot hold up an announce.
	devs, hwProblems, closePanel := openPanel(cfg.Panel, log)
	problems := &problemList{hw: hwProblems, memory: memProblem}
	pnl := panel.New(panel.Opts{Name: cfg.Panel.Name, URLs: urls, PageInterval: cfg.Panel.PageInterval},
		devs, clock.Real{}, panelSource(trk, problems), log)
	panelCtx, stopPanel := context.WithCancel(context.Background())
	panelDone := make(chan struct{})
	go func() {
		defer close(panelDone)
		pnl.Run(panelCtx, devs.Button)
	}()
	pnl.Serving()
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
			logStats(log, trk.Stats(), usrv.Stats(), srv.Stats(), pnl.Panics())
		case <-refusalsTick.C:
			trk.Refusals().Log(log)
		case <-watchdog:
			notify(log, sdnotify.Watchdog)
		case <-o.Hangup:
			reload(log, cfg, o, problems)
		}
	}

	log.Info("stopping")
	notify(log, sdnotify.Stopping)
	sctx, scancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer scancel()
	// UDP has no requests in flight between packets: closing the sockets ends it.
	closeAll(udpListeners)
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("stopping: requests still in flight were cut off", "err", err)
	}
	<-udpDone
	stopPanel()
	<-panelDone
	closePanel()
	trk.Refusals().Log(log)
	logStats(log, trk.Stats(), usrv.Stats(), srv.Stats(), pnl.Panics())
	log.Info("stopped")
	return serveErr
}

// StoreOpts is the peer store's part of the configuration.
func StoreOpts(cfg config.Config) swarm.Opts {
	return swarm.Opts{
		PeerTimeout:          cfg.Tracker.PeerTimeout,
		MaxTorrents:          cfg.Swarm.MaxTorrents,
		MaxPeers:             cfg.Swarm.MaxPeers,
		MaxPeersPerTorrent:   cfg.Swarm.MaxPeersPerTorrent,
		MaxMemory:            cfg.Swarm.MaxMemory,
		Retention:            cfg.Tracker.TorrentRetention,
		SourceMaxNewTorrents: cfg.Swarm.SourceMaxNewTorrents,
		SourceWindow:         cfg.Swarm.SourceWindow,
		SourceMaxPeers:       cfg.Swarm.SourceMaxPeers,
	}
}

// reload re-reads the configuration. A bad one changes nothing and shows on the
// panel until a good one is loaded; a good one changes the log level at once, and
// anything else it changes is named, to be applied by a restart.
func reload(log *slog.Logger, running config.Config, o Options, problems *problemList) {
	if o.Reload == nil {
		log.Warn("reload: not available; restart to apply configuration changes")
		return
	}
	notify(log, sdnotify.Reloading)
	defer notify(log, sdnotify.Ready)
	next, err := o.Reload()
	if err != nil {
		log.Error("reload: the new configuration has problems; keeping the running one", "err", err)
		problems.setReload("config reload failed")
		return
	}
	problems.setReload("")
	if o.Level != nil {
		o.Level.Set(next.Log.Level)
	}
	var restart []string
	for _, sec := range []struct {
		name      string
		was, next any
	}{
		{"http", running.HTTP, next.HTTP},
		{"udp", running.UDP, next.UDP},
		{"tracker", running.Tracker, next.Tracker},
		{"swarm", running.Swarm, next.Swarm},
		{"panel", running.Panel, next.Panel},
		{"log.format", running.Log.Format, next.Log.Format},
		{"process", running.Process, next.Process},
	} {
		if !reflect.DeepEqual(sec.was, sec.next) {
			restart = append(restart, sec.name)
		}
	}
	if len(restart) > 0 {
		log.Warn("reload: log level applied; restart to apply the rest", "changed", strings.Join(restart, ","))
		return
	}
	log.Info("reload: configuration reloaded", "log_level", next.Log.Level.String())
}

// notify tells systemd, and logs (once per kind of message is plenty) if it cannot.
func notify(log *slog.Logger, state string) {
	if _, err := sdnotify.Notify(state); err != nil {
		log.Warn("systemd notify failed", "state", state, "err", err)
	}
}

// listen and listenUDP bind every address before anything serves, so a bad address
// is a configuration error and the process has not half-started.
func listen(addrs []string) ([]net.Listener, error) {
	var ls []net.Listener
	for _, a := range addrs {
		l, err := net.Listen("tcp", a)
		if err != nil {
			closeAll(ls)
			return nil, &config.KeyError{Key: "http.listen", Problem: fmt.Sprintf("%q: %s", a, config.BindProblem(err))}
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func listenUDP(cfg config.UDP) ([]*udptracker.Listener, error) {
	var ls []*udptracker.Listener
	for _, a := range cfg.Listen {
		l, err := udptracker.Listen(a, cfg)
		if err != nil {
			closeAll(ls)
			return nil, &config.KeyError{Key: "udp.listen", Problem: fmt.Sprintf("%q: %s", a, config.BindProblem(err))}
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func closeAll[C io.Closer](cs []C) {
	for _, c := range cs {
		c.Close()
	}
}

func addrsOf[L interface{ Addr() net.Addr }](ls []L) []net.Addr {
	addrs := make([]net.Addr, len(ls))
	for i, l := range ls {
		addrs[i] = l.Addr()
	}
	return addrs
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
