// Package config turns flags, environment, a config file and defaults (in that order
// of precedence) into one validated, immutable Config snapshot.
package config

import (
	"log/slog"
	"net/netip"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
)

// Config is the validated configuration. It is a value: copy it freely, never mutate
// a shared one.
type Config struct {
	HTTP    HTTP
	UDP     UDP
	Tracker Tracker
	Access  Access
	Swarm   Swarm
	Panel   Panel
	Web     Web
	MDNS    MDNS
	Catalog Catalog
	Log     Log
	Process Process
}

// HTTP configures the HTTP tracker front.
type HTTP struct {
	Listen                  []string       // http.listen
	ReadHeaderTimeout       time.Duration  // http.read_header_timeout
	WriteTimeout            time.Duration  // http.write_timeout
	IdleTimeout             time.Duration  // http.idle_timeout
	MaxHeaderBytes          int            // http.max_header_bytes
	MaxConnections          int            // http.max_connections
	MaxConnectionsPerSource int            // http.max_connections_per_source (0: no limit)
	TrustedProxies          []netip.Prefix // http.trusted_proxies: who may name the client in X-Forwarded-For or Forwarded
}

// UDP configures the UDP tracker front (BEP 15).
type UDP struct {
	Listen      []string // udp.listen; empty turns UDP off
	Workers     int      // udp.workers (0 means one per CPU core)
	ReadBuffer  int      // udp.read_buffer (0 keeps the system default)
	WriteBuffer int      // udp.write_buffer (0 keeps the system default)
}

// Tracker configures announce and scrape semantics shared by every front.
type Tracker struct {
	Interval         time.Duration  // tracker.interval
	MinInterval      time.Duration  // tracker.min_interval
	PeerTimeout      time.Duration  // tracker.peer_timeout (0 in the file means 1.5 × interval)
	TorrentRetention time.Duration  // tracker.torrent_retention (0 forgets at once)
	NumWantDefault   int            // tracker.numwant_default
	NumWantMax       int            // tracker.numwant_max
	ScrapeMax        int            // tracker.scrape_max
	FullScrape       bool           // tracker.full_scrape
	AllowIPParam     bool           // tracker.allow_ip_param
	AllowedNetworks  []netip.Prefix // tracker.allowed_networks
}

// Access configures who may use the tracker beyond the allowed networks.
type Access struct {
	Mode      access.Mode    // access.mode
	AllowFile string         // access.allow_file: the info-hashes tracked in listed mode
	DenyFile  string         // access.deny_file: the info-hashes refused in unlisted mode
	KeyFile   string         // access.key_file: labels and hashes of the passkeys, for private mode
	Clients   access.Clients // access.clients: peer_id prefixes let in, or ("!-XX") kept out
}

// Swarm configures the peer store's caps: its byte budget, its counts, and what
// one source may take of them.
type Swarm struct {
	MaxMemory            int64         // swarm.max_memory in bytes; "auto" is resolved when loaded
	MaxMemoryAuto        bool          // swarm.max_memory is "auto": MaxMemory comes from MachineRAM
	MachineRAM           int64         // the RAM "auto" was taken from, in bytes; 0 when unreadable
	MaxTorrents          int           // swarm.max_torrents
	MaxPeers             int           // swarm.max_peers
	MaxPeersPerTorrent   int           // swarm.max_peers_per_torrent
	SourceMaxNewTorrents int           // swarm.source_max_new_torrents (0 turns the limit off)
	SourceMaxPeers       int           // swarm.source_max_peers (0 turns the limit off)
	SourceWindow         time.Duration // swarm.source_window
}

// Panel configures the front panel: LEDs, display, button, or their simulation.
type Panel struct {
	Mode           string        // panel.mode: auto, sim or off
	Name           string        // panel.name
	PageInterval   time.Duration // panel.page_interval
	SimPNG         string        // panel.sim_png
	LEDPower       string        // panel.led_power: "sysfs:NAME", "gpio:PIN[:low]" or ""
	LEDActivity    string        // panel.led_activity
	LEDSwarm       string        // panel.led_swarm
	LEDError       string        // panel.led_error
	Button         string        // panel.button: a GPIO pin name or ""
	Display        bool          // panel.display
	DisplayBus     string        // panel.display_bus
	DisplayAddress int           // panel.display_address: 0x3C or 0x3D
	DisplayHeight  int           // panel.display_height: 32 or 64
}

// Web configures the status page and the endpoints served beside it on the
// tracker's HTTP port.
type Web struct {
	Enabled bool          // web.enabled: GET /, /stats.json, /panel.png
	Metrics bool          // web.metrics: GET /metrics
	Refresh time.Duration // web.refresh: how often an open page updates its figures
}

// MDNS configures the built-in mDNS responder, for systems without avahi-daemon.
type MDNS struct {
	Responder bool   // mdns.responder
	Name      string // mdns.name: the .local host name; "" is the system's host name
}

// Catalog configures the shelf of torrents on the status page.
type Catalog struct {
	Enabled        bool   // catalog.enabled
	Dir            string // catalog.dir: where published .torrent files are kept
	UploadKey      string // catalog.upload_key: "" lets only loopback upload
	MaxTorrentSize int    // catalog.max_torrent_size, in bytes
}

// Log configures logging to stderr.
type Log struct {
	Level  slog.Level // log.level
	Format string     // log.format: "text" or "json"
}

// Process configures what the tracker asks of the system for itself.
type Process struct {
	LockMemory bool // process.lock_memory
}
