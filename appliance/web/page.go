package web

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/swarmlight/swarmlight/appliance/panel"
)

// The page's contract with whoever reads it, the browser test and the page's
// own script: every figure /stats.json has is an element with
// data-stat="FIELD" (nested ones as "cap_refusals.peers", "udp.packets") and
// data-value holding the field's value as /stats.json encodes it, JSON text
// (a string quoted, a list as a JSON array). The element's text is the value
// formatted for people. The server renders both, so the page is right with
// JavaScript off; the script, polling /stats.json, updates both.

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// figure is one figure on the page.
type figure struct {
	ID, Label, Stat, Format string
	Value, Text             string
}

// figureSpec says which field a figure shows, how it is labelled and formatted.
type figureSpec struct{ stat, label, format string }

var (
	swarmFigures = []figureSpec{
		{"torrents", "Torrents", "count"},
		{"peers", "Peers", "count"},
		{"seeders", "Seeders", "count"},
		{"leechers", "Leechers", "count"},
		{"partial_seeds", "Partial seeds", "count"},
		{"active_swarms", "Active swarms (data moving)", "count"},
	}
	trafficFigures = []figureSpec{
		{"announces_per_second", "Announces per second", "rate"},
		{"announces_total", "Announces since start", "count"},
		{"scrapes_total", "Scrapes since start", "count"},
		{"refused_total", "Requests refused since start", "count"},
	}
	capFigures = []figureSpec{
		{"cap_refusals.torrents", "Torrents cap", "count"},
		{"cap_refusals.peers", "Peers cap", "count"},
		{"cap_refusals.swarm", "Swarm size cap", "count"},
		{"cap_refusals.memory", "Memory budget", "count"},
		{"cap_refusals.source_torrents", "New torrents from one host", "count"},
		{"cap_refusals.source_peers", "Peers from one host", "count"},
		{"cap_refusals.http_connections", "HTTP connections", "count"},
		{"cap_refusals.http_source", "HTTP connections from one host", "count"},
	}
	udpFigures = []figureSpec{
		{"udp.packets", "Packets", "count"},
		{"udp.dropped", "Dropped", "count"},
		{"udp.bad_conn_id", "Bad connection id", "count"},
		{"udp.limited", "Rate-limited", "count"},
	}
	// pageNames are the display's pages, as the README's front panel table
	// names them.
	pageNames = [panel.NumPages]string{"announce URL", "swarms", "announces per minute, last hour", "health"}
)

// pageData is what page.html is executed with.
type pageData struct {
	fields map[string]any // the snapshot as /stats.json has it

	Swarms, Traffic, Caps, UDP []figure
	Problems                   []string
	MemUsed, MemMax, MemHigh   int64
	URLs                       []announceURL
	Graph                      template.HTML
	GraphW, GraphH             int

	Panel          bool
	PanelW, PanelH int
	PanelAlt       string
	Pages          []panelPage

	ShelfOn bool
	Shelf   []shelfRow
	Private bool

	RefreshMS   int64
	RefreshText string
}

type announceURL struct {
	URL string
	QR  template.HTML
}

type panelPage struct {
	N, Num int
	Name   string
}

type shelfRow struct {
	ShelfItem
	SizeText string
	// MagnetURL is Magnet for an href: html/template lets no scheme but
	// http(s) and mailto through on its own, and a magnet link is what a
	// torrent client is opened with.
	MagnetURL template.URL
}

// Value is the field at path (dotted for nested fields) as JSON text.
func (d *pageData) Value(path string) string {
	b, err := json.Marshal(lookup(d.fields, path))
	if err != nil {
		return "null"
	}
	return string(b)
}

// Text is the field at path formatted for people.
func (d *pageData) Text(path string) string {
	switch v := lookup(d.fields, path).(type) {
	case string:
		return v
	case float64:
		switch path {
		case "uptime_seconds":
			return duration(int64(v))
		case "memory_bytes":
			return bytesText(int64(v))
		case "memory_budget_bytes":
			if v <= 0 {
				return "no budget"
			}
			return bytesText(int64(v))
		}
		return count(int64(v))
	}
	return ""
}

func lookup(fields map[string]any, path string) any {
	var v any = fields
	for k := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func (d *pageData) figures(specs []figureSpec) []figure {
	out := make([]figure, 0, len(specs))
	for _, f := range specs {
		text := d.Text(f.stat)
		if f.format == "rate" {
			v, _ := lookup(d.fields, f.stat).(float64)
			text = rate(v)
		}
		out = append(out, figure{ID: strings.NewReplacer(".", "-", "_", "-").Replace(f.stat), Label: f.label,
			Stat: f.stat, Format: f.format, Value: d.Value(f.stat), Text: text})
	}
	return out
}

// build gathers what the page shows, from the same snapshot /stats.json
// would serve at this instant.
func build(o *Options, snap Snapshot) (*pageData, error) {
	snap = normal(snap)
	raw, err := json.Marshal(snap)
	if err != nil {
		return nil, fmt.Errorf("web: page: %w", err)
	}
	d := &pageData{GraphW: graphW, GraphH: graphH,
		RefreshMS: o.Refresh.Milliseconds(), RefreshText: o.Refresh.String()}
	// Decoded with numbers as float64, as the page's script sees them: the
	// figures are counts far below 2^53.
	if err := json.Unmarshal(raw, &d.fields); err != nil {
		return nil, fmt.Errorf("web: page: %w", err)
	}
	d.Swarms, d.Traffic = d.figures(swarmFigures), d.figures(trafficFigures)
	d.Caps, d.UDP = d.figures(capFigures), d.figures(udpFigures)
	d.Problems = snap.Problems
	d.MemUsed, d.MemMax = snap.MemoryBytes, snap.MemoryBudgetBytes
	if d.MemMax <= 0 {
		d.MemMax = max(d.MemUsed, 1)
	}
	d.MemHigh = d.MemMax * 9 / 10
	d.Graph = graphSVG(snap.HistoryAnnouncesPerSecond)
	for i, u := range snap.AnnounceURLs {
		au := announceURL{URL: u}
		if i < maxQR {
			if au.QR, err = qrSVG(u); err != nil {
				return nil, err
			}
		}
		d.URLs = append(d.URLs, au)
	}
	if o.Panel != nil {
		if shown, ok := o.Panel(); ok {
			d.Panel = true
			d.PanelW, d.PanelH = shown.Bounds.Dx()*2, shown.Bounds.Dy()*2
			d.PanelAlt = fmt.Sprintf("The front panel's display as it shows now: page %d of %d, %s.",
				shown.Page+1, panel.NumPages, pageNames[shown.Page%panel.NumPages])
			for n := range panel.NumPages {
				d.Pages = append(d.Pages, panelPage{N: n, Num: n + 1, Name: pageNames[n]})
			}
		}
	}
	if o.Catalog != nil && o.Shelf != nil {
		d.ShelfOn = true
		for _, it := range o.Shelf() {
			row := shelfRow{ShelfItem: it, SizeText: bytesText(it.Size)}
			if strings.HasPrefix(it.Magnet, "magnet:?") {
				row.MagnetURL = template.URL(it.Magnet)
			}
			d.Shelf = append(d.Shelf, row)
		}
		d.Private = strings.HasPrefix(snap.AccessMode, "private")
	}
	return d, nil
}

func (s *Server) page(w http.ResponseWriter, _ *http.Request, o *Options) {
	d, err := build(o, o.Source())
	if err != nil {
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		plain(w, http.StatusInternalServerError, "internal error")
		return
	}
	send(w, "text/html; charset=utf-8", buf.Bytes())
}

// maxQR is how many announce URLs get a QR code, LAN ones first as the
// tracker lists them: a code is up to 5 KB, and a box with many addresses
// would otherwise push the page past 100 KB. The rest are shown as text.
const maxQR = 12

// refreshDefault is how often the page updates when no one said.
const refreshDefault = 5 * time.Second
