package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/swarmlight/swarmlight/appliance/internal/markup"
	"github.com/swarmlight/swarmlight/appliance/panel"
)

// The page's contract with whoever reads it, the browser test and the page's
// own script: every figure /stats.json has is an element with
// data-stat="FIELD" (nested ones as "cap_refusals.peers", "udp.packets") and
// data-value holding the field's value as /stats.json encodes it, JSON text
// (a string quoted, a list as a JSON array). The element's text is the value
// formatted for people. The server renders both, so the page is right with
// JavaScript off; the script, polling /stats.json, updates both.

// The page is written by hand (render), not by html/template: see package
// markup for why. Every value from the snapshot, the panel or the shelf goes
// through markup's escaping; the rest is the page's own text.

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

// pageData is what the page shows.
type pageData struct {
	fields map[string]any // the snapshot as /stats.json has it

	Swarms, Traffic, Caps, UDP []figure
	Problems                   []string
	MemUsed, MemMax, MemHigh   int64
	URLs                       []announceURL
	Graph                      string // markup, graphSVG's
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
	QR  string // markup, qrSVG's
}

type panelPage struct {
	N, Num int
	Name   string
}

type shelfRow struct {
	ShelfItem
	SizeText string
	// MagnetURL is Magnet when it is a magnet link, for an href: a magnet
	// link is what a torrent client is opened with.
	MagnetURL string
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
				row.MagnetURL = it.Magnet
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
	send(w, "text/html; charset=utf-8", d.render())
}

// maxQR is how many announce URLs get a QR code, LAN ones first as the
// tracker lists them: a code is up to 5 KB, and a box with many addresses
// would otherwise push the page past 100 KB. The rest are shown as text.
const maxQR = 12

// refreshDefault is how often the page updates when no one said.
const refreshDefault = 5 * time.Second

// render writes the page.
func (d *pageData) render() []byte {
	var b markup.Builder
	b.Grow(32 << 10)
	b.Raw(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>swarmlight status</title>
<style>
`, pageCSS, `</style>
</head>
<body>
<header>
<h1>swarmlight</h1>
<p>BitTorrent tracker for this network · version `)
	d.span(&b, "version", "text")
	b.Raw(` · up `)
	d.span(&b, "uptime_seconds", "duration")
	b.Raw(` · access: `)
	d.span(&b, "access_mode", "text")
	b.Raw(`</p>
</header>
<main>
<section aria-labelledby="h-swarms">
<h2 id="h-swarms">Swarms</h2>
<dl>`)
	writeFigures(&b, d.Swarms)
	b.Raw(`
</dl>
</section>
<section aria-labelledby="h-announces">
<h2 id="h-announces">Announces</h2>
<dl>`)
	writeFigures(&b, d.Traffic)
	b.Raw(`
</dl>
<figure data-stat="history_announces_per_second" data-format="graph" data-value="`)
	b.Text(d.Value("history_announces_per_second"))
	b.Raw(`" style="margin:.8rem 0 0">
`, d.Graph, `
<figcaption id="graph-cap" class="note">Announces per second over the last hour, one point per 10 seconds.</figcaption>
</figure>
</section>
<section aria-labelledby="h-health">
<h2 id="h-health">Health</h2>
<p><label for="mem">Memory used against its budget</label>: `)
	d.span(&b, "memory_bytes", "bytes")
	b.Raw(` of `)
	d.span(&b, "memory_budget_bytes", "budget")
	b.Raw(`</p>
<meter id="mem" min="0" max="`)
	b.Int(d.MemMax)
	b.Raw(`" value="`)
	b.Int(d.MemUsed)
	b.Raw(`" high="`)
	b.Int(d.MemHigh)
	b.Raw(`">`)
	b.Text(d.Text("memory_bytes"))
	b.Raw(`</meter>
<h3 style="font-size:1rem;margin:.8rem 0 .3rem">Problems</h3>
<ul class="problems" data-stat="problems" data-format="list" data-value="`)
	b.Text(d.Value("problems"))
	b.Raw(`">`)
	for _, p := range d.Problems {
		b.Raw(`<li>`)
		b.Text(p)
		b.Raw(`</li>`)
	}
	if len(d.Problems) == 0 {
		b.Raw(`<li class="ok">None: all is well.</li>`)
	}
	b.Raw(`</ul>
<h3 style="font-size:1rem;margin:.8rem 0 .3rem">Requests refused at a cap, since start</h3>
<dl class="small">`)
	writeFigures(&b, d.Caps)
	b.Raw(`
</dl>
<h3 style="font-size:1rem;margin:.8rem 0 .3rem">UDP packets, since start</h3>
<dl class="small">`)
	writeFigures(&b, d.UDP)
	b.Raw(`
</dl>
</section>
<section aria-labelledby="h-urls">
<h2 id="h-urls">Announce URLs</h2>
<p class="note">Paste one into a BitTorrent client's tracker list, or scan its code.</p>
<ul class="urls" data-stat="announce_urls" data-format="urls" data-value="`)
	b.Text(d.Value("announce_urls"))
	b.Raw(`">`)
	for _, u := range d.URLs {
		b.Raw("\n<li>", u.QR, "<code>")
		b.Text(u.URL)
		b.Raw("</code></li>")
	}
	b.Raw(`
</ul>
</section>
`)
	if d.Panel {
		b.Raw(`<section class="panel" aria-labelledby="h-panel">
<h2 id="h-panel">Front panel</h2>
<img id="panel-now" src="/panel.png" width="`)
		b.Int(int64(d.PanelW))
		b.Raw(`" height="`)
		b.Int(int64(d.PanelH))
		b.Raw(`" alt="`)
		b.Text(d.PanelAlt)
		b.Raw(`">
<div class="pages">`)
		for _, p := range d.Pages {
			b.Raw(`
<figure><img src="/panel.png?page=`)
			b.Int(int64(p.N))
			b.Raw(`" width="`)
			b.Int(int64(d.PanelW))
			b.Raw(`" height="`)
			b.Int(int64(d.PanelH))
			b.Raw(`" alt="Display page `)
			b.Int(int64(p.Num))
			b.Raw(`: `)
			b.Text(p.Name)
			b.Raw(`" data-page="`)
			b.Int(int64(p.N))
			b.Raw(`"><figcaption>Page `)
			b.Int(int64(p.Num))
			b.Raw(`: `)
			b.Text(p.Name)
			b.Raw(`</figcaption></figure>`)
		}
		b.Raw(`
</div>
</section>`)
	}
	b.Raw("\n")
	if d.ShelfOn {
		b.Raw(`<section aria-labelledby="h-shelf">
<h2 id="h-shelf">Shelf of torrents</h2>
`)
		if len(d.Shelf) > 0 {
			b.Raw(`<table><thead><tr><th scope="col">Name</th><th scope="col">Size</th><th scope="col">Get it</th></tr></thead><tbody>`)
			for _, r := range d.Shelf {
				b.Raw("\n<tr><td>")
				b.Text(r.Name)
				b.Raw("</td><td>")
				b.Text(r.SizeText)
				b.Raw("</td><td>")
				if r.MagnetURL != "" {
					b.Raw(`<a href="`)
					b.URL(r.MagnetURL)
					b.Raw(`">magnet link</a> · `)
				}
				b.Raw(`<a href="`)
				b.URL(r.Download)
				b.Raw(`" download>.torrent</a></td></tr>`)
			}
			b.Raw("\n</tbody></table>")
		} else {
			b.Raw(`<p class="ok">Nothing on the shelf yet.</p>`)
		}
		b.Raw("\n")
		if d.Private {
			b.Raw(`<p class="note">Members: add <code>?key=YOUR-KEY</code> to a .torrent link to get it with your own announce URL.</p>`)
		}
		b.Raw(`
<form method="post" action="/catalog" enctype="multipart/form-data">
<p><label for="up-torrent">Add a .torrent</label> <input id="up-torrent" name="torrent" type="file" accept=".torrent,application/x-bittorrent" required></p>
<p><label for="up-key">Upload key (if the operator set one)</label> <input id="up-key" name="key" type="password" autocomplete="off"></p>
<p><button type="submit">Add to the shelf</button></p>
</form>
</section>`)
	}
	b.Raw(`
</main>
<footer><p class="note">Figures update every `)
	b.Text(d.RefreshText)
	// The script is given numbers only, spaced as html/template spaced them.
	b.Raw(`. Nothing on this page or at <a href="/stats.json">/stats.json</a> names a peer or a torrent a peer announced.</p></footer>
<script>
`, scriptHead, "var every= ", strconv.FormatInt(d.RefreshMS, 10), " ;",
		scriptGraph, "var W= ", strconv.Itoa(d.GraphW), " ,H= ", strconv.Itoa(d.GraphH), " ,",
		scriptTail, `</script>
</body>
</html>
`)
	return []byte(b.String())
}

// span writes the figure at path in a span, as the header's figures are.
func (d *pageData) span(b *markup.Builder, path, format string) {
	b.Raw(`<span data-stat="`)
	b.Text(path)
	b.Raw(`" data-format="`)
	b.Text(format)
	b.Raw(`" data-value="`)
	b.Text(d.Value(path))
	b.Raw(`">`)
	b.Text(d.Text(path))
	b.Raw(`</span>`)
}

// writeFigures writes figures as a description list's entries.
func writeFigures(b *markup.Builder, figures []figure) {
	for _, f := range figures {
		b.Raw(`
<div><dt id="l-`)
		b.Text(f.ID)
		b.Raw(`">`)
		b.Text(f.Label)
		b.Raw(`</dt><dd aria-labelledby="l-`)
		b.Text(f.ID)
		b.Raw(`" data-stat="`)
		b.Text(f.Stat)
		b.Raw(`" data-format="`)
		b.Text(f.Format)
		b.Raw(`" data-value="`)
		b.Text(f.Value)
		b.Raw(`">`)
		b.Text(f.Text)
		b.Raw(`</dd></div>`)
	}
}

// pageCSS is the page's style sheet, inline: the page is one request.
const pageCSS = `:root{--fg:#1b1b1b;--bg:#fff;--muted:#4a4a4a;--line:#d0d0d0;--card:#f4f4f4;--accent:#0b4f8a;--bad:#a1140f}
@media (prefers-color-scheme:dark){:root{--fg:#ececec;--bg:#121212;--muted:#bdbdbd;--line:#3a3a3a;--card:#1e1e1e;--accent:#8cc4ff;--bad:#ff9b94}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:64rem;padding:1rem;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:1.6rem;margin:0}h2{font-size:1.15rem;margin:0 0 .5rem}
header p,.note,.axis{color:var(--muted)}
section{background:var(--card);border:1px solid var(--line);border-radius:.5rem;padding:.8rem 1rem;margin:1rem 0}
dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5rem,1fr));gap:.6rem;margin:0}
dl div{min-width:0}dt{font-size:.85rem;color:var(--muted)}dd{margin:0;font-size:1.35rem;font-variant-numeric:tabular-nums;overflow-wrap:anywhere}
.small dd{font-size:1.05rem}
#graph{width:100%;height:8rem;display:block}#graph .bg{fill:var(--bg)}#graph-line{stroke:var(--accent)}
.axis{display:flex;justify-content:space-between;font-size:.8rem;margin:.2rem 0 0}
meter{width:100%;height:1.2rem}
.problems li{color:var(--bad);font-weight:600}.ok,.problems li.ok{color:var(--muted);font-weight:400}
.urls{list-style:none;padding:0;margin:0;display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:1rem}
.urls li{text-align:center}.urls code{display:block;overflow-wrap:anywhere;font-size:.9rem;margin-top:.3rem}
.qr{width:10rem;height:10rem;max-width:100%}
.panel img{image-rendering:pixelated;width:100%;max-width:384px;height:auto;background:#000;border-radius:.25rem}
.pages{display:grid;grid-template-columns:repeat(auto-fill,minmax(9rem,1fr));gap:.5rem;margin-top:.6rem}
.pages figure{margin:0}.pages figcaption{font-size:.8rem;color:var(--muted)}
a{color:var(--accent)}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line)}
`

// The page's script, around the two figures it is given: how often it polls
// (after scriptHead) and the graph's size (after scriptGraph).
const (
	scriptHead = `(function(){
`
	scriptGraph = `
function group(n){var s=String(Math.trunc(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g,",");return n<0?"-"+s:s}
function bytes(n){if(n<1024)return n+" B";var u=["KiB","MiB","GiB","TiB"],v=n,i=-1;while(v>=1024&&i<u.length-1){v/=1024;i++}return v.toFixed(1)+" "+u[i]}
function dur(s){var d=Math.floor(s/86400),h=Math.floor(s%86400/3600),m=Math.floor(s%3600/60);if(s>=86400)return d+" d "+h+" h";if(s>=3600)return h+" h "+m+" min";if(s>=60)return m+" min "+(s%60)+" s";return s+" s"}
function fmt(f,v){switch(f){case"count":return group(v);case"bytes":return bytes(v);case"budget":return v>0?bytes(v):"no budget";case"rate":return v.toFixed(1);case"duration":return dur(v)}return String(v)}
function at(o,p){p.split(".").forEach(function(k){o=o==null?o:o[k]});return o}
function graph(h){`
	scriptTail = `peak=0,pts=[];h.forEach(function(v){peak=Math.max(peak,v)});h.forEach(function(v,i){pts.push((W-h.length+i)+","+(peak>0?H-v/peak*H:H).toFixed(1))});document.getElementById("graph-line").setAttribute("points",pts.join(" "));document.getElementById("graph-peak").textContent=peak.toFixed(1)}
function list(el,l){while(el.firstChild)el.removeChild(el.firstChild);if(!l.length){var ok=document.createElement("li");ok.className="ok";ok.textContent="None: all is well.";el.appendChild(ok)}l.forEach(function(t){var li=document.createElement("li");li.textContent=t;el.appendChild(li)})}
function update(s){
document.querySelectorAll("[data-stat]").forEach(function(el){
var v=at(s,el.getAttribute("data-stat")),f=el.getAttribute("data-format");
if(v===undefined)return;
el.setAttribute("data-value",JSON.stringify(v));
if(f==="graph")graph(v);else if(f==="list")list(el,v);else if(f!=="urls")el.textContent=fmt(f,v)});
var m=document.getElementById("mem");if(m){if(s.memory_budget_bytes>0)m.max=s.memory_budget_bytes;m.value=s.memory_bytes;m.textContent=bytes(s.memory_bytes)}
var t=Date.now();document.querySelectorAll("#panel-now,[data-page]").forEach(function(img){var p=img.getAttribute("data-page");img.src="/panel.png?"+(p===null?"":"page="+p+"&")+"t="+t})}
function poll(){fetch("/stats.json",{cache:"no-store"}).then(function(r){if(!r.ok)throw new Error(r.status);return r.json()}).then(update).catch(function(){}).then(function(){setTimeout(poll,every)})}
setTimeout(poll,every);
})();
`
)
