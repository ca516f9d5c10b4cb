package access

import (
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// A v1 hash and a v2 (SHA-256) digest, each in every spelling a list may use.
var (
	v1     = [20]byte{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10, 0xaa, 0xbb, 0xcc, 0xdd}
	v1Hex  = hex.EncodeToString(v1[:])
	v1B32  = base32.StdEncoding.EncodeToString(v1[:])
	v2Full = [32]byte{0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28}
	v2     = [20]byte(v2Full[:20])
	v2Mh   = "1220" + hex.EncodeToString(v2Full[:])
)

func TestParseHashes(t *testing.T) {
	tests := []struct {
		name string
		line string
		want [][20]byte // nil: an error
	}{
		{"hex lower", v1Hex, [][20]byte{v1}},
		{"hex upper", strings.ToUpper(v1Hex), [][20]byte{v1}},
		{"base32 upper", v1B32, [][20]byte{v1}},
		{"base32 lower", strings.ToLower(v1B32), [][20]byte{v1}},
		{"text after the hash", v1Hex + "  ubuntu.iso", [][20]byte{v1}},
		{"comma after the hash", v1Hex + ",ubuntu.iso", [][20]byte{v1}},
		{"comment", v1Hex + " # the image", [][20]byte{v1}},
		{"leading space", "\t " + v1Hex, [][20]byte{v1}},
		{"magnet v1 hex", "magnet:?xt=urn:btih:" + v1Hex + "&dn=x", [][20]byte{v1}},
		{"magnet v1 base32", "magnet:?dn=x&xt=urn:btih:" + v1B32, [][20]byte{v1}},
		{"magnet v2", "magnet:?xt=urn:btmh:" + v2Mh, [][20]byte{v2}},
		{"magnet hybrid gives both", "magnet:?xt=urn:btih:" + v1Hex + "&xt=urn:btmh:" + v2Mh + "&tr=http%3A%2F%2Fbox%2Fannounce", [][20]byte{v1, v2}},
		{"magnet escaped, upper case", "MAGNET:?XT=urn%3Abtih%3A" + strings.ToUpper(v1Hex), [][20]byte{v1}},
		{"magnet then text", "magnet:?xt=urn:btih:" + v1Hex + " my torrent", [][20]byte{v1}},
		{"39 hex digits", v1Hex[:39], nil},
		{"41 hex digits", v1Hex + "a", nil},
		{"hex run into letters", v1Hex + "zz", nil},
		{"not hex", strings.Repeat("g", 40), nil},
		{"base32 with 1", "1" + v1B32[1:], nil},
		{"blank", "   ", nil},
		{"only a comment", "# nothing", nil},
		{"magnet without a hash", "magnet:?dn=x", nil},
		{"magnet btmh not sha256", "magnet:?xt=urn:btmh:1320" + hex.EncodeToString(v2Full[:]), nil},
		{"magnet btmh short", "magnet:?xt=urn:btmh:1220" + hex.EncodeToString(v2Full[:31]), nil},
		{"magnet bad btih", "magnet:?xt=urn:btih:" + v1Hex[:38], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseHashes(tt.line)
			if tt.want == nil {
				if err == nil {
					t.Fatalf("got %x, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %x, want %x", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Fatalf("got %x, want %x", got, tt.want)
				}
			}
		})
	}
}

// manyHashes is a list of 5000 distinct hashes, each given twice, in crowded
// buckets and in every spelling.
var manyHashes = func() string {
	var b strings.Builder
	hs := randomHashes(rand.New(rand.NewPCG(7, 8)), 5000)
	for i, h := range hs {
		h[0] = byte(i % 3) // few buckets, many entries each
		hs[i] = h
		b.WriteString(hex.EncodeToString(h[:]) + "\n")
	}
	for _, h := range hs {
		b.WriteString(base32.StdEncoding.EncodeToString(h[:]) + " # again\n")
	}
	return b.String()
}()

func TestLoadHashes(t *testing.T) {
	secret := strings.Repeat("ab", 19) + "zz" // a bad line that looks like a hash
	tests := []struct {
		name     string
		text     string
		wantLen  int
		wantLine int // 0: loads
	}{
		{"empty", "", 0, 0},
		{"mixed", "# school torrents\n\n" + v1Hex + " one\n" + strings.ToUpper(v1Hex) + "\nmagnet:?xt=urn:btmh:" + v2Mh + "\n", 2, 0},
		{"no final newline", v1Hex, 1, 0},
		{"crlf", v1Hex + "\r\n" + v1B32 + "\r\n", 1, 0},
		{"bad line 3", v1Hex + "\n# c\n" + secret + "\n" + v1Hex + "\n", 0, 3},
		{"line too long", v1Hex + "\n" + strings.Repeat("a", maxLine+10) + "\n", 0, 2},
		{"many", manyHashes, 5000, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "allow.list")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := LoadHashes(path)
			if tt.wantLine == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if s.Len() != tt.wantLen {
					t.Fatalf("Len %d, want %d", s.Len(), tt.wantLen)
				}
				for i, line := range strings.Split(tt.text, "\n") {
					hs, err := ParseHashes(line)
					for _, h := range hs {
						if err == nil && !s.Has(&h) {
							t.Fatalf("line %d: %x not loaded", i+1, h)
						}
					}
				}
				return
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != tt.wantLine || le.Path != path {
				t.Fatalf("error %v, want a LineError for %s line %d", err, path, tt.wantLine)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), v1Hex) {
				t.Fatalf("error %q repeats the line's text", err)
			}
		})
	}
}

// TestHashesSet checks membership against a map, across every bucket size from
// empty to crowded, with duplicates.
func TestHashesSet(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 2, 1000, 200_000} {
		hs := randomHashes(r, n)
		// Crowd one bucket and repeat some hashes.
		for i := 0; i < n/10; i++ {
			hs[i][0], hs[i][1] = 7, 7
		}
		hs = append(hs, hs[:n/3]...)
		want := map[[20]byte]bool{}
		for _, h := range hs {
			want[h] = true
		}
		s := NewHashes(append([][20]byte(nil), hs...))
		if s.Len() != len(want) {
			t.Fatalf("n=%d: Len %d, want %d", n, s.Len(), len(want))
		}
		for h := range want {
			if !s.Has(&h) {
				t.Fatalf("n=%d: %x missing", n, h)
			}
			h[19] ^= 1
			if s.Has(&h) != want[h] {
				t.Fatalf("n=%d: %x: Has %v, want %v", n, h, !want[h], want[h])
			}
		}
	}
	var nilSet *Hashes
	if nilSet.Has(&v1) || nilSet.Len() != 0 {
		t.Fatal("the nil set is not empty")
	}
}

func randomHashes(r *rand.Rand, n int) [][20]byte {
	hs := make([][20]byte, n)
	for i := range hs {
		binary.LittleEndian.PutUint64(hs[i][0:], r.Uint64())
		binary.LittleEndian.PutUint64(hs[i][8:], r.Uint64())
		binary.LittleEndian.PutUint32(hs[i][16:], r.Uint32())
	}
	return hs
}

// BenchmarkTracked is the listed-mode check of an announce against a 1 M-hash
// allow list, half hits and half misses. It also reports what the list takes:
// opentracker spends about 21 MiB on a 1 M-hash whitelist.
func BenchmarkTracked(b *testing.B) {
	const n = 1 << 20
	r := rand.New(rand.NewPCG(3, 4))
	probes := make([][20]byte, 1024)
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hs := randomHashes(r, n)
	for i := range probes {
		probes[i] = hs[r.IntN(n)]
		if i%2 == 1 {
			probes[i][19] ^= 0xff
		}
	}
	set := NewHashes(hs)
	hs = nil
	runtime.GC()
	runtime.ReadMemStats(&after)

	c := New()
	c.cur.Store(&policy{opts: Opts{Mode: Mode{List: Listed}}, allow: set})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		c.Tracked(&probes[i&1023])
	}
	b.StopTimer()
	b.ReportMetric(float64(set.Bytes())/float64(set.Len()), "B/entry")
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(set.Len()), "heapB/entry")
	b.ReportMetric(float64(set.Bytes())/(1<<20), "MiB")
	runtime.KeepAlive(set)
}

// TestHashesMemory holds the 1 M-hash list under opentracker's 21 MiB, counted by
// the heap, not by the set's own arithmetic.
func TestHashesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a 1 M-hash list")
	}
	const n = 1_000_000
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	hs := randomHashes(rand.New(rand.NewPCG(5, 6)), n)
	set := NewHashes(hs)
	hs = nil
	runtime.GC()
	runtime.ReadMemStats(&after)
	heap := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	if set.Len() != n || heap > 21<<20 {
		t.Fatalf("%d hashes take %d bytes of heap (%.1f B each), want at most 21 MiB", set.Len(), heap, float64(heap)/n)
	}
	t.Logf("%d hashes: %.1f MiB of heap, %.2f B each", n, float64(heap)/(1<<20), float64(heap)/n)
	runtime.KeepAlive(set)
}

// BenchmarkLoadHashes reads a 1 M-hash list file, as a reload does, and reports
// the most the heap grew by while reading it.
func BenchmarkLoadHashes(b *testing.B) {
	const n = 1 << 20
	var sb strings.Builder
	for _, h := range randomHashes(rand.New(rand.NewPCG(9, 10)), n) {
		sb.WriteString(hex.EncodeToString(h[:]) + "\n")
	}
	path := filepath.Join(b.TempDir(), "allow.list")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	sb = strings.Builder{}
	b.ReportAllocs()
	var peak uint64
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s, err := LoadHashes(path)
		runtime.ReadMemStats(&after)
		if err != nil || s.Len() != n {
			b.Fatalf("%v, %d hashes", err, s.Len())
		}
		peak = max(peak, after.TotalAlloc-before.TotalAlloc)
	}
	b.ReportMetric(float64(peak)/(1<<20), "MiB-allocated")
}
