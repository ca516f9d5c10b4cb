package periph

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"strings"
	"sync"
	"testing"

	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/devices/v3/ssd1306/image1bit"
)

// oled emulates an SSD1306 on an I²C bus, from its datasheet rather than from
// periph's driver: it answers only at its address, keeps the display RAM (128
// columns by 8 pages, each byte 8 pixels high, LSB on top) and follows the
// addressing commands, so a test can check what the panel would show.
type oled struct {
	addr uint16

	mu                 sync.Mutex
	ram                [8 * 128]byte
	page, col          int
	colStart, colEnd   int
	pageStart, pageEnd int
	on                 bool
	failIn             int // fail the failIn-th Tx from now (1 is the next)
	err                error
}

func newOLED(addr uint16) *oled {
	return &oled{addr: addr, colEnd: 127, pageEnd: 7}
}

func (o *oled) String() string                    { return "oled" }
func (o *oled) SetSpeed(f physic.Frequency) error { return nil }

// Tx implements i2c.Bus.
func (o *oled) Tx(addr uint16, w, r []byte) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if addr != o.addr {
		return errors.New("remote I/O error")
	}
	if o.failIn > 0 {
		if o.failIn--; o.failIn == 0 {
			return errors.New("remote I/O error")
		}
	}
	if len(r) != 0 || len(w) == 0 {
		o.err = errors.Join(o.err, fmt.Errorf("unexpected Tx(%#x, %x, %d)", addr, w, len(r)))
		return nil
	}
	switch w[0] {
	case 0x00:
		o.commands(w[1:])
	case 0x40:
		for _, b := range w[1:] {
			o.ram[o.page*128+o.col] = b
			if o.col++; o.col > o.colEnd {
				o.col = o.colStart
				if o.page++; o.page > o.pageEnd {
					o.page = o.pageStart
				}
			}
		}
	default:
		o.err = errors.Join(o.err, fmt.Errorf("bad control byte %#x", w[0]))
	}
	return nil
}

func (o *oled) commands(c []byte) {
	// Commands taking arguments, by how many.
	args := map[byte]int{0x81: 1, 0x8D: 1, 0xA8: 1, 0xD3: 1, 0xD5: 1, 0xD9: 1, 0xDA: 1, 0xDB: 1, 0x20: 1, 0x21: 2, 0x22: 2}
	for i := 0; i < len(c); i++ {
		b := c[i]
		n := args[b]
		if i+n >= len(c) {
			o.err = errors.Join(o.err, fmt.Errorf("command %#x cut short", b))
			return
		}
		a := c[i+1 : i+1+n]
		switch {
		case b == 0x21:
			o.colStart, o.colEnd, o.col = int(a[0]), int(a[1]), int(a[0])
		case b == 0x22:
			o.pageStart, o.pageEnd, o.page = int(a[0]), int(a[1]), int(a[0])
		case b == 0x20:
			if a[0] != 0 {
				o.err = errors.Join(o.err, fmt.Errorf("addressing mode %d not emulated", a[0]))
			}
		case b >= 0xB0 && b <= 0xB7:
			o.page = int(b & 7)
		case b <= 0x0F:
			o.col = o.col&0xF0 | int(b)
		case b >= 0x10 && b <= 0x1F:
			o.col = o.col&0x0F | int(b&0x0F)<<4
		case b == 0xAE:
			o.on = false
		case b == 0xAF:
			o.on = true
		case n > 0, b >= 0x40 && b <= 0x7F, b == 0xA0, b == 0xA1, b == 0xA4, b == 0xA6, b == 0xC0, b == 0xC8, b == 0x2E:
			// Settings the emulation does not need.
		default:
			o.err = errors.Join(o.err, fmt.Errorf("unknown command %#x", b))
		}
		i += n
	}
}

// screen returns the RAM the panel shows, h pixels high.
func (o *oled) screen(h int) []byte {
	o.mu.Lock()
	defer o.mu.Unlock()
	return bytes.Clone(o.ram[:h/8*128])
}

// pages renders img as the SSD1306 shows it: one byte per column in bands of 8
// rows, the top row in bit 0; a pixel is lit when any channel is half on.
func pages(img image.Image, w, h int) []byte {
	out := make([]byte, w*h/8)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			if r >= 0x8000 || g >= 0x8000 || b >= 0x8000 {
				out[y/8*w+x] |= 1 << (y % 8)
			}
		}
	}
	return out
}

// testImage draws a pattern that tells rows, columns and bands apart.
func testImage(w, h, seed int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.Black, image.Point{}, draw.Src)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			switch {
			case (x*7+y*3+seed)%11 < 4:
				img.Set(x, y, color.White)
			case (x+y+seed)%13 == 0:
				img.Set(x, y, color.RGBA{0x90, 0, 0, 0xff}) // lit: red above half
			case (x+y+seed)%17 == 0:
				img.Set(x, y, color.Gray{0x7f}) // dark: just below half
			}
		}
	}
	return img
}

// initSeq is the datasheet's power-on sequence as periph sends it, for a
// 128-wide display of height h.
func initSeq(h int) []byte {
	comPins := byte(0x12) // alternative COM pins, 128x64
	if h == 32 {
		comPins = 0x02 // sequential, 128x32
	}
	return []byte{
		0x00, // control byte: commands follow
		0xAE, 0xD3, 0x00, 0x40, 0xA1, 0xC8, 0xDA, comPins, 0x81, 0xFF, 0xA4, 0xA6,
		0xD5, 0xF0, 0x8D, 0x14, 0xD9, 0xF1, 0xDB, 0x40, 0x2E, 0xA8, byte(h - 1),
		0x20, 0x00, 0x21, 0x00, 0x7F, 0x22, 0x00, byte(h/8 - 1), 0xAF,
	}
}

func TestSSD1306(t *testing.T) {
	for _, tc := range []struct {
		addr uint16
		h    int
	}{
		{0x3C, 64}, {0x3D, 64}, {0x3C, 32}, {0x3D, 32},
	} {
		t.Run(fmt.Sprintf("%#x_128x%d", tc.addr, tc.h), func(t *testing.T) {
			dev := newOLED(tc.addr)
			rec := &i2ctest.Record{Bus: dev}
			d, err := NewSSD1306(rec, &SSD1306Opts{Address: tc.addr, H: tc.h})
			if err != nil {
				t.Fatal(err)
			}
			if got, want := d.Bounds(), image.Rect(0, 0, 128, tc.h); got != want {
				t.Fatalf("Bounds %v, want %v", got, want)
			}
			if len(rec.Ops) != 1 || rec.Ops[0].Addr != tc.addr || !bytes.Equal(rec.Ops[0].W, initSeq(tc.h)) {
				t.Fatalf("init: %+v\nwant one write to %#x of % x", rec.Ops, tc.addr, initSeq(tc.h))
			}

			// The first frame goes out whole: all data bytes, in page order,
			// are the image's bytes.
			img := testImage(128, tc.h, 0)
			want := pages(img, 128, tc.h)
			rec.Ops = nil
			if err := d.Draw(img); err != nil {
				t.Fatal(err)
			}
			var data []byte
			for _, op := range rec.Ops {
				if op.Addr != tc.addr {
					t.Fatalf("Tx to %#x", op.Addr)
				}
				if op.W[0] == 0x40 {
					data = append(data, op.W[1:]...)
				}
			}
			if !bytes.Equal(data, want) {
				t.Fatalf("frame data:\n% x\nwant:\n% x", data, want)
			}
			if got := dev.screen(tc.h); !bytes.Equal(got, want) {
				t.Fatal("the screen does not show the frame")
			}

			// An equal frame, even a new image of another type, sends nothing.
			rec.Ops = nil
			same := image.NewNRGBA(img.Bounds())
			draw.Draw(same, same.Bounds(), img, image.Point{}, draw.Src)
			for _, f := range []image.Image{img, same} {
				if err := d.Draw(f); err != nil {
					t.Fatal(err)
				}
			}
			if len(rec.Ops) != 0 {
				t.Fatalf("an unchanged frame sent %d transactions", len(rec.Ops))
			}

			// A changed frame sends what changed, and the screen shows it.
			next := testImage(128, tc.h, 0)
			next.Set(5, tc.h-1, color.White)
			next.Set(6, tc.h-1, color.White)
			if err := d.Draw(next); err != nil {
				t.Fatal(err)
			}
			if len(rec.Ops) == 0 || len(rec.Ops) > 2 {
				t.Fatalf("two pixels changed, %d transactions", len(rec.Ops))
			}
			if got := dev.screen(tc.h); !bytes.Equal(got, pages(next, 128, tc.h)) {
				t.Fatal("the screen does not show the changed frame")
			}

			rec.Ops = nil
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if got := dev.screen(tc.h); !bytes.Equal(got, make([]byte, len(got))) {
				t.Fatal("Close left pixels lit")
			}
			if dev.on {
				t.Fatal("Close left the display on")
			}
			if err := d.Draw(img); err == nil {
				t.Fatal("Draw after Close: no error")
			}
			if err := d.Close(); err != nil {
				t.Fatalf("second Close: %v", err)
			}
			if dev.err != nil {
				t.Fatal(dev.err)
			}
		})
	}
}

// TestSSD1306Playback replays the exact traffic of a first frame, as periph's
// own tests do: the init, then per page the page and column start and 128
// data bytes.
func TestSSD1306Playback(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 128, 32))
	img.Pix[0] = 0xff                     // (0, 0): page 0, column 0, bit 0
	img.Pix[img.PixOffset(127, 9)] = 0xff // page 1, column 127, bit 1
	img.Pix[img.PixOffset(64, 31)] = 0x80 // page 3, column 64, bit 7
	ops := []i2ctest.IO{{Addr: 0x3D, W: initSeq(32)}}
	for p := 0; p < 4; p++ {
		ops = append(ops, i2ctest.IO{Addr: 0x3D, W: []byte{0x00, 0xB0 | byte(p), 0x00, 0x10}})
		data := make([]byte, 129)
		data[0] = 0x40
		switch p {
		case 0:
			data[1+0] = 0x01
		case 1:
			data[1+127] = 0x02
		case 3:
			data[1+64] = 0x80
		}
		ops = append(ops, i2ctest.IO{Addr: 0x3D, W: data})
	}
	bus := &i2ctest.Playback{Ops: ops, DontPanic: true}
	d, err := NewSSD1306(bus, &SSD1306Opts{Address: 0x3D, W: 128, H: 32})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestSSD1306Recovers checks that a frame cut short by a bus error is sent
// again whole, even when it is the same frame: periph's driver alone would
// believe it shown and skip it.
func TestSSD1306Recovers(t *testing.T) {
	dev := newOLED(0x3C)
	d, err := NewSSD1306(dev, nil)
	if err != nil {
		t.Fatal(err)
	}
	img := testImage(128, 64, 3)
	dev.failIn = 4 // the second page's data
	if err := d.Draw(img); err == nil || !strings.Contains(err.Error(), "ssd1306: draw: remote I/O error") {
		t.Fatalf("Draw on a failing bus: %v", err)
	}
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	if got := dev.screen(64); !bytes.Equal(got, pages(img, 128, 64)) {
		t.Fatal("the screen does not show the frame after recovery")
	}
	if !dev.on {
		t.Fatal("display off after recovery")
	}
	if dev.err != nil {
		t.Fatal(dev.err)
	}
}

func TestSSD1306Errors(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts SSD1306Opts
		want string
	}{
		{"nobody at the address", SSD1306Opts{Address: 0x3D}, "ssd1306: init at 0x3d: remote I/O error"},
		{"bad address", SSD1306Opts{Address: 0x3E}, "ssd1306: address 0x3e: want 0x3c or 0x3d"},
		{"bad height", SSD1306Opts{H: 48}, "ssd1306: height 48: want 64 or 32"},
		{"bad width", SSD1306Opts{W: 100}, "ssd1306: init at 0x3c: ssd1306: invalid width 100"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewSSD1306(newOLED(0x3C), &tc.opts)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got %v, want %s", err, tc.want)
			}
		})
	}
}

func TestSSD1306Image1bit(t *testing.T) {
	dev := newOLED(0x3C)
	d, err := NewSSD1306(dev, &SSD1306Opts{H: 32})
	if err != nil {
		t.Fatal(err)
	}
	img := image1bit.NewVerticalLSB(image.Rect(0, 0, 128, 32))
	img.SetBit(3, 17, image1bit.On)
	if err := d.Draw(img); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 4*128)
	want[2*128+3] = 1 << 1
	if got := dev.screen(32); !bytes.Equal(got, want) {
		t.Fatal("image1bit frame not shown as is")
	}
	// A smaller image lands top-left; the rest is dark.
	small := image.NewGray(image.Rect(10, 10, 20, 12))
	small.Pix[0] = 0xff
	if err := d.Draw(small); err != nil {
		t.Fatal(err)
	}
	want = make([]byte, 4*128)
	want[0] = 1
	if got := dev.screen(32); !bytes.Equal(got, want) {
		t.Fatalf("small image: % x", got[:16])
	}
}
