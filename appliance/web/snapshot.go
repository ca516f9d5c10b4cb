// Package web serves the box's status page, /stats.json and /panel.png on the
// tracker's HTTP port, to the allowed networks only.
package web

// Snapshot is what the status page shows and /stats.json returns. The JSON
// field names are a stable contract: scripts, `swarmlight status`, /metrics
// and the browser test read them. Every figure is an aggregate over the whole
// tracker; none is about one peer or one torrent.
type Snapshot struct {
	Version       string `json:"version"`
	UptimeSeconds int64  `json:"uptime_seconds"`
	AccessMode    string `json:"access_mode"`

	Torrents     int64 `json:"torrents"`
	Peers        int64 `json:"peers"`
	Seeders      int64 `json:"seeders"`
	Leechers     int64 `json:"leechers"`
	PartialSeeds int64 `json:"partial_seeds"`
	ActiveSwarms int64 `json:"active_swarms"`

	AnnouncesTotal     uint64  `json:"announces_total"`
	ScrapesTotal       uint64  `json:"scrapes_total"`
	RefusedTotal       uint64  `json:"refused_total"`
	AnnouncesPerSecond float64 `json:"announces_per_second"`

	MemoryBytes       int64 `json:"memory_bytes"`
	MemoryBudgetBytes int64 `json:"memory_budget_bytes"`

	CapRefusals CapRefusals `json:"cap_refusals"`
	UDP         UDPStats    `json:"udp"`

	// Problems are the panel's health lines in plain words, e.g.
	// "peer cap hit 2 min ago"; empty when all is well.
	Problems []string `json:"problems"`
	// AnnounceURLs are this box's announce URLs, one per address and
	// protocol, as clients should paste them.
	AnnounceURLs []string `json:"announce_urls"`
	// HistoryAnnouncesPerSecond holds one sample per 10 s over the last
	// hour, oldest first; shorter while the box has been up less than that.
	HistoryAnnouncesPerSecond []float64 `json:"history_announces_per_second"`
}

// CapRefusals counts requests refused by each cap since start.
type CapRefusals struct {
	Torrents        uint64 `json:"torrents"`
	Peers           uint64 `json:"peers"`
	Swarm           uint64 `json:"swarm"`
	Memory          uint64 `json:"memory"`
	SourceTorrents  uint64 `json:"source_torrents"`
	SourcePeers     uint64 `json:"source_peers"`
	HTTPConnections uint64 `json:"http_connections"`
	HTTPSource      uint64 `json:"http_source"`
}

// UDPStats counts the UDP front's packets since start.
type UDPStats struct {
	Packets   uint64 `json:"packets"`
	Dropped   uint64 `json:"dropped"`
	BadConnID uint64 `json:"bad_conn_id"`
	Limited   uint64 `json:"limited"`
}
