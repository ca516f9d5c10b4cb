package config

import (
	"log/slog"
	"math"
	"net/netip"
	"strings"
	"time"

	"github.com/swarmlight/swarmlight/appliance/access"
)

// The schema is the single list of configuration keys: the loader, the flags, the
// environment names, YAML output and configs/swarmlight.yaml all derive from it, so
// a key added here is a key everywhere.
var schema = []key{
	listKey("http.listen", []string{":6969"},
		`TCP addresses to serve HTTP on, as host:port; ":6969" is every IPv4 and IPv6 address`,
		checkListenAddrs, func(c *Config) *[]string { return &c.HTTP.Listen }),
	durationKey("http.read_header_timeout", 5*time.Second, time.Second, time.Hour,
		"How long a client may take to send its request headers (1s to 1h)",
		func(c *Config) *time.Duration { return &c.HTTP.ReadHeaderTimeout }),
	durationKey("http.write_timeout", 10*time.Second, time.Second, time.Hour,
		"How long writing one response may take (1s to 1h)",
		func(c *Config) *time.Duration { return &c.HTTP.WriteTimeout }),
	durationKey("http.idle_timeout", 15*time.Second, time.Second, time.Hour,
		"How long an idle keep-alive connection stays open (1s to 1h)",
		func(c *Config) *time.Duration { return &c.HTTP.IdleTimeout }),
	intKey("http.max_header_bytes", 16384, 4096, 1048576,
		"Largest request header accepted, in bytes (4096 to 1048576)",
		func(c *Config) *int { return &c.HTTP.MaxHeaderBytes }),
	intKey("http.max_connections", 1024, 1, noMax,
		"Most HTTP connections open at once (at least 1); a connection over it is answered 503 and closed, never queued",
		func(c *Config) *int { return &c.HTTP.MaxConnections }),
	intKey("http.max_connections_per_source", 32, 0, noMax,
		"Most HTTP connections one source (an IPv4 address, an IPv6 /64) may hold open at once; 0 turns the limit off (0 or more)",
		func(c *Config) *int { return &c.HTTP.MaxConnectionsPerSource }),
	optionalCIDRsKey("http.trusted_proxies", nil,
		`Reverse proxies (CIDR) whose X-Forwarded-For, Forwarded and X-Forwarded-Proto headers name the client; [] trusts none, and from anyone else the headers are ignored`,
		func(c *Config) *[]netip.Prefix { return &c.HTTP.TrustedProxies }),

	listKey("udp.listen", []string{":6969"},
		`UDP addresses to serve the UDP tracker (BEP 15) on; ":6969" is every IPv4 and IPv6 address; [] turns UDP off`,
		checkOptionalListenAddrs, func(c *Config) *[]string { return &c.UDP.Listen }),
	intKey("udp.workers", 0, 0, 256,
		"Receive loops per UDP address, each with its own socket; 0 means one per CPU core (0 to 256)",
		func(c *Config) *int { return &c.UDP.Workers }),
	intKey("udp.read_buffer", 0, 0, 64<<20,
		"UDP socket receive buffer in bytes; 0 keeps the system default (0 to 67108864)",
		func(c *Config) *int { return &c.UDP.ReadBuffer }),
	intKey("udp.write_buffer", 0, 0, 64<<20,
		"UDP socket send buffer in bytes; 0 keeps the system default (0 to 67108864)",
		func(c *Config) *int { return &c.UDP.WriteBuffer }),

	durationKey("tracker.interval", 30*time.Minute, 10*time.Second, 24*time.Hour,
		"How often clients should announce (10s to 24h)",
		func(c *Config) *time.Duration { return &c.Tracker.Interval }),
	durationKey("tracker.min_interval", 15*time.Minute, time.Second, 24*time.Hour,
		"Shortest announce interval clients must respect (1s to tracker.interval)",
		func(c *Config) *time.Duration { return &c.Tracker.MinInterval }),
	durationKey("tracker.peer_timeout", 0, 0, 7*24*time.Hour,
		"How long a silent peer stays listed; 0 means 1.5 x tracker.interval (else more than the interval, at most 168h)",
		func(c *Config) *time.Duration { return &c.Tracker.PeerTimeout }),
	durationKey("tracker.torrent_retention", 24*time.Hour, 0, 30*24*time.Hour,
		"How long an empty swarm keeps its completed count after its last peer left; 0 forgets it at once (0s to 720h)",
		func(c *Config) *time.Duration { return &c.Tracker.TorrentRetention }),
	intKey("tracker.numwant_default", 50, 0, noMax,
		"Peers returned when a client does not say how many it wants (0 to tracker.numwant_max)",
		func(c *Config) *int { return &c.Tracker.NumWantDefault }),
	intKey("tracker.numwant_max", 200, 1, 1000,
		"Most peers returned in one announce (1 to 1000)",
		func(c *Config) *int { return &c.Tracker.NumWantMax }),
	intKey("tracker.scrape_max", 74, 1, 256,
		"Most torrents one scrape request may ask about (1 to 256)",
		func(c *Config) *int { return &c.Tracker.ScrapeMax }),
	boolKey("tracker.full_scrape", false,
		"Answer a scrape that names no torrent with every torrent's counts",
		func(c *Config) *bool { return &c.Tracker.FullScrape }),
	boolKey("tracker.allow_ip_param", false,
		"Trust the ip= announce parameter instead of the connection's source address",
		func(c *Config) *bool { return &c.Tracker.AllowIPParam }),
	cidrsKey("tracker.allowed_networks",
		[]string{"127.0.0.0/8", "::1/128", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16", "fe80::/10", "fc00::/7"},
		`Client networks (CIDR) allowed to use the tracker; ["0.0.0.0/0", "::/0"] allows everyone`,
		func(c *Config) *[]netip.Prefix { return &c.Tracker.AllowedNetworks }),

	modeKey("access.mode", "open",
		"Which torrents are tracked and who may announce: open (the allowed networks decide), listed (only the allow list), unlisted (all but the deny list), private (every request carries a passkey), or private+listed",
		func(c *Config) *access.Mode { return &c.Access.Mode }),
	stringKey("access.allow_file", "/etc/swarmlight/allow.list",
		"Info-hashes tracked in listed mode, one a line (40 hex digits, 32 base32 characters or a magnet link); reloaded when it changes",
		checkPath, func(c *Config) *string { return &c.Access.AllowFile }),
	stringKey("access.deny_file", "/etc/swarmlight/deny.list",
		"Info-hashes refused in unlisted mode, in the allow file's format; reloaded when it changes",
		checkPath, func(c *Config) *string { return &c.Access.DenyFile }),
	stringKey("access.key_file", "/etc/swarmlight/passkeys",
		"Members' passkeys for private mode, as labels and hashes (never the keys): manage it with swarmlight key add|list|revoke; reloaded when it changes",
		checkPath, func(c *Config) *string { return &c.Access.KeyFile }),
	clientsKey("access.clients",
		`peer_id prefixes of the only clients let in, like ["-qB", "-TR"], or of clients kept out, each written with "!", like ["!-XL"]; [] lets every client in`,
		func(c *Config) *access.Clients { return &c.Access.Clients }),

	memoryKey("swarm.max_memory",
		"Bytes the peer store may use: auto is 40% of this machine's RAM (16MiB to 2GiB), or a size like 96MiB or 1GiB (at least 8MiB)"),
	intKey("swarm.max_torrents", 2000000, 1, noMax,
		"Most torrents tracked at once (at least 1); on a small board swarm.max_memory usually binds first",
		func(c *Config) *int { return &c.Swarm.MaxTorrents }),
	intKey("swarm.max_peers", 10000000, 1, noMax,
		"Most peers tracked at once across all torrents (at least 1); on a small board swarm.max_memory usually binds first",
		func(c *Config) *int { return &c.Swarm.MaxPeers }),
	intKey("swarm.max_peers_per_torrent", 100000, 1, noMax,
		"Most peers tracked for one torrent (at least 1)",
		func(c *Config) *int { return &c.Swarm.MaxPeersPerTorrent }),
	intKey("swarm.source_max_new_torrents", 2000, 0, noMax,
		"Torrents one source (an IPv4 address, an IPv6 /64) may create per swarm.source_window; 0 turns the limit off (0 or more)",
		func(c *Config) *int { return &c.Swarm.SourceMaxNewTorrents }),
	intKey("swarm.source_max_peers", 20000, 0, noMax,
		"Peer entries one source (an IPv4 address, an IPv6 /64) may hold at once; 0 turns the limit off (0 or more)",
		func(c *Config) *int { return &c.Swarm.SourceMaxPeers }),
	durationKey("swarm.source_window", 10*time.Minute, time.Second, 24*time.Hour,
		"Window in which swarm.source_max_new_torrents counts a source's new torrents (1s to 24h)",
		func(c *Config) *time.Duration { return &c.Swarm.SourceWindow }),

	enumKey("panel.mode", "auto", []string{"auto", "sim", "off"},
		"Front panel: auto drives the hardware found and logs what is missing; sim simulates it (no hardware touched); off has none",
		func(c *Config) *string { return &c.Panel.Mode }),
	stringKey("panel.name", "swarmlight", "Name shown on the display's first page", checkName,
		func(c *Config) *string { return &c.Panel.Name }),
	durationKey("panel.page_interval", 5*time.Second, time.Second, time.Hour,
		"How long each display page shows before the next (1s to 1h)",
		func(c *Config) *time.Duration { return &c.Panel.PageInterval }),
	stringKey("panel.sim_png", "", `File the simulated display is written to as PNG on every change; "" writes none`, nil,
		func(c *Config) *string { return &c.Panel.SimPNG }),
	stringKey("panel.led_power", "sysfs:ACT",
		`Power/heartbeat LED: "sysfs:NAME" is a kernel LED (ACT is the Pi's green LED; led0 on old kernels), "gpio:GPIO17" a pin (":low" for active-low), "" none`,
		checkLEDSpec, func(c *Config) *string { return &c.Panel.LEDPower }),
	stringKey("panel.led_activity", "gpio:GPIO17", `Activity LED, flashing with announces; GPIO17 is header pin 11 ("" for none)`,
		checkLEDSpec, func(c *Config) *string { return &c.Panel.LEDActivity }),
	stringKey("panel.led_swarm", "gpio:GPIO27", `Swarm LED, on while data moves (a swarm has a seeder and a downloader); GPIO27 is header pin 13`,
		checkLEDSpec, func(c *Config) *string { return &c.Panel.LEDSwarm }),
	stringKey("panel.led_error", "gpio:GPIO22", `Error LED, on while something needs attention; GPIO22 is header pin 15`,
		checkLEDSpec, func(c *Config) *string { return &c.Panel.LEDError }),
	stringKey("panel.button", "GPIO23", `Push button that flips display pages, to ground; GPIO23 is header pin 16 (ground: pin 14); "" for none`,
		checkPinName, func(c *Config) *string { return &c.Panel.Button }),
	boolKey("panel.display", true, "Drive an SSD1306 OLED display on I2C",
		func(c *Config) *bool { return &c.Panel.Display }),
	stringKey("panel.display_bus", "", `I2C bus of the display; "" is the first bus (/dev/i2c-1 on a Pi: SDA header pin 3, SCL pin 5)`, nil,
		func(c *Config) *string { return &c.Panel.DisplayBus }),
	intKey("panel.display_address", 0x3C, 0x3C, 0x3D,
		"I2C address of the display: 60 (0x3C) or 61 (0x3D)",
		func(c *Config) *int { return &c.Panel.DisplayAddress }),
	intKey("panel.display_height", 64, 32, 64,
		"Display height in pixels: 64 (128x64) or 32 (128x32)",
		func(c *Config) *int { return &c.Panel.DisplayHeight }),

	boolKey("web.enabled", true,
		"Serve the status page (/), /stats.json and /panel.png on the tracker's HTTP port, to the allowed networks only",
		func(c *Config) *bool { return &c.Web.Enabled }),
	boolKey("web.metrics", true,
		"Serve Prometheus metrics at /metrics on the tracker's HTTP port, to the allowed networks only",
		func(c *Config) *bool { return &c.Web.Metrics }),
	durationKey("web.refresh", 5*time.Second, time.Second, time.Hour,
		"How often an open status page updates its figures (1s to 1h)",
		func(c *Config) *time.Duration { return &c.Web.Refresh }),

	boolKey("mdns.responder", false,
		"Answer mDNS for NAME.local and advertise the status page (_http._tcp) with a built-in responder; leave off where avahi-daemon runs, as on Raspberry Pi OS, which the package configures instead",
		func(c *Config) *bool { return &c.MDNS.Responder }),
	stringKey("mdns.name", "", `Host name the built-in responder answers for, without .local; "" is this machine's host name`, checkHostLabel,
		func(c *Config) *string { return &c.MDNS.Name }),

	boolKey("catalog.enabled", false,
		"Keep a shelf of torrents on the status page: LAN users upload .torrent files and download them; the only thing swarmlight writes to disk",
		func(c *Config) *bool { return &c.Catalog.Enabled }),
	stringKey("catalog.dir", "/var/lib/swarmlight/catalog", "Directory the shelf's .torrent files are kept in (the service's state directory)",
		checkPath, func(c *Config) *string { return &c.Catalog.Dir }),
	stringKey("catalog.upload_key", "", `Key an upload to the shelf must carry; "" lets only this machine (loopback) upload`, nil,
		func(c *Config) *string { return &c.Catalog.UploadKey }),
	intKey("catalog.max_torrent_size", 4<<20, 1024, 64<<20,
		"Largest .torrent file the shelf accepts, in bytes (1024 to 67108864)",
		func(c *Config) *int { return &c.Catalog.MaxTorrentSize }),

	levelKey("log.level", "info",
		"Least severe log messages written: debug, info, warn or error",
		func(c *Config) *slog.Level { return &c.Log.Level }),
	enumKey("log.format", "text", []string{"text", "json"},
		"Format of log lines on stderr: text or json",
		func(c *Config) *string { return &c.Log.Format }),

	boolKey("process.lock_memory", true,
		"Lock the tracker's memory into RAM, so no peer data is ever swapped to disk (needs LimitMEMLOCK=infinity, as the systemd unit sets, or root); false on a developer's machine",
		func(c *Config) *bool { return &c.Process.LockMemory }),
}

// noMax marks an integer key whose only upper bound is what an int holds.
const noMax = math.MaxInt

// kind is how a key's value is written and checked.
type kind int

const (
	kindStrings  kind = iota // list of strings: a YAML list, or text split on commas and spaces
	kindCIDRs                // list of CIDR prefixes, written like kindStrings
	kindDuration             // duration with a unit, like 30m
	kindInt                  // whole number
	kindBool                 // true or false
	kindLevel                // log level name
	kindEnum                 // one of a fixed set of words
	kindString               // free text, checked by the key
	kindSize                 // bytes, with an optional unit like MiB, or a word like auto
)

// typeName is what help output calls the value of a key of this kind.
func (k kind) typeName() string {
	switch k {
	case kindStrings:
		return "strings"
	case kindCIDRs:
		return "cidrs"
	case kindDuration:
		return "duration"
	case kindInt:
		return "int"
	case kindBool:
		return "bool"
	case kindLevel:
		return "level"
	case kindSize:
		return "size"
	default:
		return "string"
	}
}

func (k kind) isList() bool { return k == kindStrings || k == kindCIDRs }

// key is one configuration key.
type key struct {
	name string
	kind kind
	def  any // the default, in a form apply accepts
	doc  string

	// apply decodes raw (from YAML, the environment, a flag or def), checks it on its
	// own and stores it in c. It returns the problem in words, or "" if raw is good.
	apply func(c *Config, raw any) string

	// value is the key's current value in c, for YAML output.
	value func(c *Config) any

	// note, when set, is a comment YAML output writes under the key: what the value
	// came to on this machine, which the value alone ("auto") does not say.
	note func(c *Config) string
}

// section is the part of the key before the dot, the YAML mapping it lives in.
func (k key) section() string {
	sec, _, _ := strings.Cut(k.name, ".")
	return sec
}

// leaf is the part of the key after the dot, its name inside the YAML mapping.
func (k key) leaf() string {
	_, leaf, _ := strings.Cut(k.name, ".")
	return leaf
}

// Keys lists every configuration key, dotted as in flags and in the error messages,
// in the order of the documented config file.
func Keys() []string {
	names := make([]string, len(schema))
	for i, k := range schema {
		names[i] = k.name
	}
	return names
}

// lookupKey finds a key by its dotted name.
func lookupKey(name string) (key, bool) {
	for _, k := range schema {
		if k.name == name {
			return k, true
		}
	}
	return key{}, false
}

// isSection reports whether name is the first part of some key.
func isSection(name string) bool {
	for _, k := range schema {
		if k.section() == name {
			return true
		}
	}
	return false
}

// Default is the configuration with every key at its default.
func Default() Config {
	cfg, errs := build(func(k key) (any, string) { return k.def, "" }, machine)
	if len(errs) > 0 {
		// The defaults are constants checked by the tests; failing here is a bug in
		// the schema, not a user's mistake.
		panic("config: the built-in defaults are invalid: " + errs.Error())
	}
	return cfg
}
