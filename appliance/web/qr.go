package web

import (
	"fmt"
	"html"
	"strings"

	"rsc.io/qr"
)

// qrQuiet is the blank margin a reader needs around a code, in modules.
const qrQuiet = 4

// qrSVG draws text as a QR code in SVG, one path of dark runs: a phone held
// up to the page reads the announce URL without anyone typing it. It is drawn
// here, not fetched, as the LAN may have no internet.
// It is markup, text escaped.
func qrSVG(text string) (string, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("web: qr code: %w", err)
	}
	n := code.Size + 2*qrQuiet
	var d strings.Builder
	for y := range code.Size {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < code.Size && code.Black(x+run, y) {
				run++
			}
			fmt.Fprintf(&d, "M%d %dh%dv1h-%dz", x+qrQuiet, y+qrQuiet, run, run)
			x += run
		}
	}
	// The text is an announce URL the server built from its own addresses,
	// and it goes into the label escaped all the same.
	svg := fmt.Sprintf(`<svg class="qr" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" role="img" aria-label="QR code for %s" shape-rendering="crispEdges"><rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="%s"/></svg>`,
		n, n, html.EscapeString(text), n, n, d.String())
	return svg, nil
}
