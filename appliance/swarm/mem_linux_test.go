package swarm

import (
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TestZeroLockedPages: with the tracker's memory locked (process.lock_memory),
// zeroing a region (the quota sketches, each window) must still give its pages
// back, not fill in every page of it, which is what clearing by hand would do.
// Only the region is locked here, as mlockall's MCL_ONFAULT would lock it.
func TestZeroLockedPages(t *testing.T) {
	const n = 64 * 4096
	tests := []struct {
		name string
		lock bool
	}{
		{"unlocked", false},
		{"locked on fault", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := mapAnon(n)
			if err != nil {
				t.Fatal(err)
			}
			defer unmap(b)
			if tt.lock {
				if _, _, errno := unix.Syscall(unix.SYS_MLOCK2, uintptr(unsafe.Pointer(&b[0])), n, unix.MLOCK_ONFAULT); errno != 0 {
					t.Skipf("mlock2(MLOCK_ONFAULT): %v", errno)
				}
			}
			b[0], b[5*4096] = 1, 2 // two pages in RAM, the rest never touched
			if got := resident(t, b); got != 2 {
				t.Fatalf("%d pages resident before zeroing, want 2", got)
			}
			zeroPages(b)
			if got := resident(t, b); got != 0 {
				t.Errorf("%d of %d pages resident after zeroing, want 0", got, n/4096)
			}
			if b[0] != 0 || b[5*4096] != 0 {
				t.Error("zeroed pages do not read as zeros")
			}
		})
	}
}

// resident counts b's pages in RAM (mincore).
func resident(t *testing.T, b []byte) int {
	t.Helper()
	vec := make([]byte, (len(b)+pageSize-1)/pageSize)
	if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), uintptr(unsafe.Pointer(&vec[0]))); errno != 0 {
		t.Fatalf("mincore: %v", errno)
	}
	n := 0
	for _, v := range vec {
		n += int(v & 1)
	}
	return n
}
