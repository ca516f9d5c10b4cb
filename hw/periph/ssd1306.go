package periph

import (
	"errors"
	"fmt"
	"image"
	"sync"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/devices/v3/ssd1306"
	"periph.io/x/devices/v3/ssd1306/image1bit"

	"github.com/swarmlight/swarmlight/hw"
	"github.com/swarmlight/swarmlight/hw/internal/mono"
)

// SSD1306 I²C addresses: the address pin (often a solder jumper on the back of
// the module, marked 0x78/0x7A in 8-bit notation) picks one.
const (
	SSD1306Addr    uint16 = 0x3C
	SSD1306AltAddr uint16 = 0x3D
)

// SSD1306Opts describes an SSD1306 module. Zero fields take the defaults.
type SSD1306Opts struct {
	Address uint16 // SSD1306Addr (the default) or SSD1306AltAddr
	W, H    int    // 128 (default) by 64 (default) or 32
}

// NewSSD1306 initialises the SSD1306 OLED at opts.Address on bus and returns
// it. The initialisation is a write the device must acknowledge, so a wrong
// address or an unwired display fails here (with the bus's error: on Linux,
// "remote I/O error").
//
// Close does not close bus: the caller opened it.
func NewSSD1306(bus i2c.Bus, opts *SSD1306Opts) (hw.Display, error) {
	o := SSD1306Opts{Address: SSD1306Addr, W: 128, H: 64}
	if opts != nil {
		if opts.Address != 0 {
			o.Address = opts.Address
		}
		if opts.W != 0 {
			o.W = opts.W
		}
		if opts.H != 0 {
			o.H = opts.H
		}
	}
	if o.Address != SSD1306Addr && o.Address != SSD1306AltAddr {
		return nil, fmt.Errorf("ssd1306: address %#x: want 0x3c or 0x3d", o.Address)
	}
	if o.H != 64 && o.H != 32 {
		return nil, fmt.Errorf("ssd1306: height %d: want 64 or 32", o.H)
	}
	d := &ssd1306Display{
		bus: &addrBus{Bus: bus, addr: o.Address},
		opts: ssd1306.Opts{
			W: o.W,
			H: o.H,
			// 128x32 modules wire the COM pins sequentially (COM pins config
			// 0x02); with periph's default (alternative, 0x12) they show every
			// other line, stretched over the whole height.
			Sequential: o.H == 32,
		},
		addr: o.Address,
	}
	if err := d.init(); err != nil {
		return nil, err
	}
	d.frame = image1bit.NewVerticalLSB(d.dev.Bounds())
	d.pix = make([]byte, o.W*o.H)
	return d, nil
}

// addrBus moves periph's ssd1306 driver, which always talks to 0x3C, to the
// configured address.
type addrBus struct {
	i2c.Bus
	addr uint16
}

// Tx implements i2c.Bus.
func (b *addrBus) Tx(addr uint16, w, r []byte) error {
	if addr == SSD1306Addr {
		addr = b.addr
	}
	return b.Bus.Tx(addr, w, r)
}

type ssd1306Display struct {
	bus  i2c.Bus
	opts ssd1306.Opts
	addr uint16

	mu    sync.Mutex
	dev   *ssd1306.Dev
	frame *image1bit.VerticalLSB // reused for every Draw
	pix   []byte                 // mono.Convert's output, reused
	// stale means the screen may not show what the driver believes it shows
	// (a write failed half-way), so the next Draw starts over.
	stale  bool
	closed bool
}

func (d *ssd1306Display) String() string {
	return fmt.Sprintf("ssd1306 %dx%d at %#x on %s", d.opts.W, d.opts.H, d.addr, d.bus)
}

// init (re)creates the driver, which sends the whole initialisation sequence;
// the driver's first Draw then sends every pixel.
func (d *ssd1306Display) init() error {
	dev, err := ssd1306.NewI2C(d.bus, &d.opts)
	if err != nil {
		return fmt.Errorf("ssd1306: init at %#x: %w", d.addr, err)
	}
	d.dev = dev
	d.stale = false
	return nil
}

// Bounds implements hw.Display.
func (d *ssd1306Display) Bounds() image.Rectangle {
	return image.Rect(0, 0, d.opts.W, d.opts.H)
}

// Draw implements hw.Display.
//
// periph's driver already compares each frame with the last one sent and
// sends only the pages and columns that changed, nothing at all for an equal
// frame; Draw relies on that. What the driver does not do is recover: it
// records a frame as shown before sending it, so after a failed write an
// equal frame would never be resent. Draw then re-initialises the display
// (which also brings back one that lost power) and sends the whole frame.
func (d *ssd1306Display) Draw(img image.Image) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("ssd1306: draw: %w", errClosed)
	}
	if src, ok := img.(*image1bit.VerticalLSB); ok && src.Rect == d.frame.Rect {
		copy(d.frame.Pix, src.Pix)
	} else {
		mono.Convert(d.pix, img, d.opts.W, d.opts.H)
		pack(d.frame, d.pix, d.opts.W, d.opts.H)
	}
	if d.stale {
		if err := d.init(); err != nil {
			return err
		}
	}
	// A full-frame VerticalLSB is the driver's fast path: no conversion, no
	// copy into its own second buffer.
	if err := d.dev.Draw(d.frame.Rect, d.frame, image.Point{}); err != nil {
		d.stale = true
		return fmt.Errorf("ssd1306: draw: %w", err)
	}
	return nil
}

// pack sets frame from pix (one byte per pixel, row by row).
func pack(frame *image1bit.VerticalLSB, pix []byte, w, h int) {
	clear(frame.Pix)
	for y := 0; y < h; y++ {
		row := pix[y*w : (y+1)*w]
		band := frame.Pix[y/8*frame.Stride:]
		bit := byte(1) << (y & 7)
		for x, v := range row {
			if v != 0 {
				band[x] |= bit
			}
		}
	}
}

// Close implements hw.Display: it clears the screen and turns the panel off
// (the controller keeps its RAM, and any later command would turn it back on).
func (d *ssd1306Display) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if !d.stale {
		clear(d.frame.Pix)
		if derr := d.dev.Draw(d.frame.Rect, d.frame, image.Point{}); derr != nil {
			err = fmt.Errorf("ssd1306: close: blank: %w", derr)
		}
	}
	if herr := d.dev.Halt(); herr != nil {
		err = errors.Join(err, fmt.Errorf("ssd1306: close: halt: %w", herr))
	}
	return err
}
