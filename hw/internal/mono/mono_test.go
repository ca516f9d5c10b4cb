package mono

import (
	"bytes"
	"image"
	"image/color"
	"image/color/palette"
	"testing"

	"periph.io/x/devices/v3/ssd1306/image1bit"
)

func TestLitIsImage1bit(t *testing.T) {
	var cs []color.Color
	for _, v := range []uint8{0, 1, 0x7f, 0x80, 0x81, 0xff} {
		cs = append(cs,
			color.Gray{v}, color.RGBA{v, 0, 0, 0xff}, color.RGBA{0, 0, v, 0xff},
			color.NRGBA{0xff, 0xff, 0xff, v}, color.NRGBA{v, v, v, 0x80}, color.Alpha{v})
	}
	cs = append(cs, palette.Plan9...)
	cs = append(cs, image1bit.On, image1bit.Off, color.Transparent, color.Opaque)
	for _, c := range cs {
		if got, want := Lit(c), bool(image1bit.BitModel.Convert(c).(image1bit.Bit)); got != want {
			t.Errorf("Lit(%#v) = %t, image1bit says %t", c, got, want)
		}
	}
}

// generic hides an image's type, forcing Convert's slow path.
type generic struct{ image.Image }

func TestConvertFastPaths(t *testing.T) {
	r := image.Rect(3, 5, 3+70, 5+40) // not at the origin, smaller than the screen
	gray := image.NewGray(r)
	pal := image.NewPaletted(r, palette.Plan9[:200])
	for i := range gray.Pix {
		gray.Pix[i] = uint8(i * 37)
	}
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i*53) % 200
	}
	for _, img := range []image.Image{gray, pal, gray.SubImage(image.Rect(10, 10, 50, 30)), pal.SubImage(image.Rect(3, 20, 9, 60))} {
		const w, h = 64, 48
		fast, slow := make([]byte, w*h), make([]byte, w*h)
		for i := range fast {
			fast[i], slow[i] = 7, 7 // Convert must clear what it does not cover
		}
		Convert(fast, img, w, h)
		Convert(slow, generic{img}, w, h)
		if !bytes.Equal(fast, slow) {
			t.Fatalf("%T: fast and generic paths differ", img)
		}
		b := img.Bounds()
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				want := byte(0)
				if x < b.Dx() && y < b.Dy() && Lit(img.At(b.Min.X+x, b.Min.Y+y)) {
					want = 1
				}
				if fast[y*w+x] != want {
					t.Fatalf("%T: pixel (%d, %d) = %d, want %d", img, x, y, fast[y*w+x], want)
				}
			}
		}
	}
}

// TestConvertBadPalette checks that indexes past the palette, on which
// image.Paletted.At panics, are dark.
func TestConvertBadPalette(t *testing.T) {
	pal := image.NewPaletted(image.Rect(0, 0, 4, 1), color.Palette{color.Black, color.White})
	copy(pal.Pix, []uint8{1, 2, 255, 1})
	got := make([]byte, 4)
	Convert(got, pal, 4, 1)
	if !bytes.Equal(got, []byte{1, 0, 0, 1}) {
		t.Fatalf("got %v", got)
	}
}
