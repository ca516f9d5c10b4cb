package web

import (
	"fmt"
	"strings"
)

// The graph's drawing area, in SVG user units: one unit across per 10-second
// sample of the last hour. The page's script draws with the same numbers.
const (
	graphW = 360
	graphH = 100
)

// graphPoints is the polyline of history, oldest first, scaled so that its
// peak touches the top; the newest sample is at the right edge.
func graphPoints(history []float64) string {
	peak := 0.0
	for _, v := range history {
		peak = max(peak, v)
	}
	var b strings.Builder
	off := graphW - len(history)
	for i, v := range history {
		y := float64(graphH)
		if peak > 0 {
			y = graphH - v/peak*graphH
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%d,%.1f", off+i, y)
	}
	return b.String()
}

// graphSVG is the last hour of announces per second as a line graph, drawn on
// the server so that it shows with JavaScript off. It is markup, of numbers
// only.
func graphSVG(history []float64) string {
	peak := 0.0
	for _, v := range history {
		peak = max(peak, v)
	}
	return fmt.Sprintf(`<svg id="graph" viewBox="0 0 %d %d" preserveAspectRatio="none" role="img" aria-labelledby="graph-cap"><rect width="%d" height="%d" class="bg"/><polyline id="graph-line" fill="none" stroke-width="1.5" vector-effect="non-scaling-stroke" points="%s"/></svg>`,
		graphW, graphH, graphW, graphH, graphPoints(history)) + fmt.Sprintf(`<p class="axis"><span>1 hour ago</span><span>peak <span id="graph-peak">%s</span>/s</span><span>now</span></p>`, rate(peak))
}
