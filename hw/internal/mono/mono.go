// Package mono turns any image into the on/off pixels of a monochrome OLED. The
// real display (hw/periph) and its simulation (hw/sim) both use it, so the
// simulator shows exactly the pixels the hardware would.
package mono

import (
	"image"
	"image/color"
)

// Lit reports whether c lights a pixel. It is the rule of periph's image1bit
// (any channel at least half on, alpha premultiplied): an image drawn for the
// driver directly looks the same whichever path it takes, and a colour accent
// in pure red or blue still shows, where a luminance threshold would drop it.
func Lit(c color.Color) bool {
	r, g, b, _ := c.RGBA()
	return (r | g | b) >= 0x8000
}

// Convert fills dst (len w*h, row by row, 1 lit and 0 dark) from src. src's
// top-left corner lands on (0, 0); whatever src does not cover is dark, so a
// wrongly sized image shows cropped instead of failing.
func Convert(dst []byte, src image.Image, w, h int) {
	clear(dst[:w*h])
	b := src.Bounds()
	cw, ch := min(w, b.Dx()), min(h, b.Dy())
	switch s := src.(type) {
	case *image.Gray:
		// The panel renders into Gray; skip the per-pixel interface calls, which
		// cost milliseconds per frame on a Pi Zero.
		for y := 0; y < ch; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < cw; x++ {
				if row[x] >= 0x80 {
					dst[y*w+x] = 1
				}
			}
		}
	case *image.Paletted:
		lit := make([]bool, len(s.Palette))
		for i, c := range s.Palette {
			lit[i] = Lit(c)
		}
		for y := 0; y < ch; y++ {
			row := s.Pix[s.PixOffset(b.Min.X, b.Min.Y+y):]
			for x := 0; x < cw; x++ {
				// An index past the palette is dark: image.Paletted.At would
				// panic on it, and the panel must not go down with a bad frame.
				if i := int(row[x]); i < len(lit) && lit[i] {
					dst[y*w+x] = 1
				}
			}
		}
	default:
		for y := 0; y < ch; y++ {
			for x := 0; x < cw; x++ {
				if Lit(src.At(b.Min.X+x, b.Min.Y+y)) {
					dst[y*w+x] = 1
				}
			}
		}
	}
}
