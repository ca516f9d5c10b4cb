package appliance

import (
	"github.com/swarmlight/swarmlight/appliance/config"
	"github.com/swarmlight/swarmlight/appliance/httptracker"
	"github.com/swarmlight/swarmlight/appliance/swarm"
	"github.com/swarmlight/swarmlight/appliance/tracker"
	"github.com/swarmlight/swarmlight/appliance/udptracker"
)

// The domain packages know nothing of the central configuration: each takes a
// small Config of its own, and these map the validated configuration onto them.
// A reload maps the new configuration the same way and hands each component its
// part.

func trackerConfig(cfg config.Config) tracker.Config {
	t := cfg.Tracker
	return tracker.Config{
		Interval:        t.Interval,
		MinInterval:     t.MinInterval,
		NumWantDefault:  t.NumWantDefault,
		NumWantMax:      t.NumWantMax,
		ScrapeMax:       t.ScrapeMax,
		FullScrape:      t.FullScrape,
		AllowIPParam:    t.AllowIPParam,
		AllowedNetworks: t.AllowedNetworks,
	}
}

func httpConfig(cfg config.Config) httptracker.Config {
	h := cfg.HTTP
	return httptracker.Config{
		ReadHeaderTimeout:       h.ReadHeaderTimeout,
		WriteTimeout:            h.WriteTimeout,
		IdleTimeout:             h.IdleTimeout,
		MaxHeaderBytes:          h.MaxHeaderBytes,
		MaxConnections:          h.MaxConnections,
		MaxConnectionsPerSource: h.MaxConnectionsPerSource,
		ScrapeMax:               cfg.Tracker.ScrapeMax,
		TrustedProxies:          h.TrustedProxies,
	}
}

func udpConfig(cfg config.Config) udptracker.Config {
	return udptracker.Config{NumWantDefault: cfg.Tracker.NumWantDefault, ScrapeMax: cfg.Tracker.ScrapeMax}
}

func udpListenConfig(cfg config.Config) udptracker.ListenConfig {
	u := cfg.UDP
	return udptracker.ListenConfig{Workers: u.Workers, ReadBuffer: u.ReadBuffer, WriteBuffer: u.WriteBuffer}
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
