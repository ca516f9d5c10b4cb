package sim

import (
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"sync"

	"github.com/swarmlight/swarmlight/hw/internal/mono"
)

// Scale is how many PNG pixels wide and high one display pixel is: 128x64 is
// a stamp on a desktop screen, 512x256 is readable.
const Scale = 4

// The PNG's colours: a lit pixel in the pale blue-white of the common SSD1306
// modules, an unlit one barely above the black glass, and the black gap
// between pixels that makes the grid of a real panel.
var palette = color.Palette{
	color.RGBA{0x00, 0x00, 0x00, 0xff}, // gap
	color.RGBA{0x12, 0x16, 0x1c, 0xff}, // unlit
	color.RGBA{0xd4, 0xee, 0xff, 0xff}, // lit
}

// Display is a simulated hw.Display.
type Display struct {
	w, h int
	path string

	mu     sync.Mutex
	pix    []byte // the frame shown: w*h, 1 lit, 0 dark; nil before the first Draw
	next   []byte
	frames int
	// stale means the PNG file does not show pix (its write failed), so the
	// next Draw writes it even for an equal frame.
	stale  bool
	closed bool
}

// NewDisplay returns a w×h display. When pngPath is not "", every frame that
// changes the screen is written there as a PNG (Scale times larger), replaced
// whole so that an image viewer watching the file never reads half of one.
func NewDisplay(w, h int, pngPath string) *Display {
	return &Display{w: w, h: h, path: pngPath, next: make([]byte, w*h)}
}

func (d *Display) String() string {
	return fmt.Sprintf("sim-display %dx%d", d.w, d.h)
}

// Bounds implements hw.Display.
func (d *Display) Bounds() image.Rectangle {
	return image.Rect(0, 0, d.w, d.h)
}

// Draw implements hw.Display. The image becomes on/off pixels by the rule the
// real display uses; a frame equal to the one shown changes nothing.
func (d *Display) Draw(img image.Image) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("sim-display: draw: %w", errClosed)
	}
	mono.Convert(d.next, img, d.w, d.h)
	return d.show()
}

// show makes d.next the frame shown.
func (d *Display) show() error {
	changed := d.pix == nil || !bytes.Equal(d.pix, d.next)
	if !changed && !d.stale {
		return nil
	}
	if changed {
		if d.pix == nil {
			d.pix = make([]byte, len(d.next))
		}
		d.pix, d.next = d.next, d.pix
		d.frames++
	}
	if d.path == "" {
		return nil
	}
	if err := writePNG(d.path, d.render()); err != nil {
		d.stale = true
		return fmt.Errorf("sim-display: %w", err)
	}
	d.stale = false
	return nil
}

// render draws the frame as the panel looks: each pixel a lit or unlit square
// with a gap on its right and bottom.
func (d *Display) render() *image.Paletted {
	img := image.NewPaletted(image.Rect(0, 0, d.w*Scale, d.h*Scale), palette)
	for y := 0; y < d.h; y++ {
		for x := 0; x < d.w; x++ {
			c := uint8(1)
			if d.pix[y*d.w+x] != 0 {
				c = 2
			}
			for dy := 0; dy < Scale-1; dy++ {
				row := img.Pix[img.PixOffset(x*Scale, y*Scale+dy):]
				for dx := 0; dx < Scale-1; dx++ {
					row[dx] = c
				}
			}
		}
	}
	return img
}

// writePNG replaces path by img: written to a temporary file in the same
// directory, then renamed over path, which is atomic.
func writePNG(path string, img image.Image) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = png.Encode(f, img)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		// CreateTemp makes the file private; a viewer may run as someone else.
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// Close implements hw.Display: it blanks the screen (and the PNG).
func (d *Display) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if d.pix == nil {
		// Never drawn: there is no screen to blank, and no file to write.
		return nil
	}
	clear(d.next)
	return d.show()
}

// Frame returns a copy of the frame shown: white on black, display-sized.
func (d *Display) Frame() image.Image {
	d.mu.Lock()
	defer d.mu.Unlock()
	img := image.NewGray(d.Bounds())
	for i, v := range d.pix {
		if v != 0 {
			img.Pix[i] = 0xff
		}
	}
	return img
}

// Frames returns how many frames changed the screen (the first Draw always
// does, as the real display's first frame is always sent).
func (d *Display) Frames() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.frames
}
