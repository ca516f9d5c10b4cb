package swarm

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

var pageSize = os.Getpagesize()

// mapAnon maps n bytes of private anonymous memory. MAP_NORESERVE: pages cost
// nothing until first touched, and the budget, not overcommit accounting, is what
// bounds them.
func mapAnon(n int) ([]byte, error) {
	p, err := unix.MmapPtr(-1, 0, nil, uintptr(n), unix.PROT_READ|unix.PROT_WRITE,
		unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	if err != nil {
		return nil, fmt.Errorf("swarm: map %d bytes: %w", n, err)
	}
	return unsafe.Slice((*byte)(p), n), nil
}

// remap grows or shrinks a mapping, moving it if it must: the kernel moves page
// table entries, not bytes, so growing a large region copies nothing.
func remap(b []byte, n int) ([]byte, error) {
	p, err := unix.MremapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b)), nil, uintptr(n), unix.MREMAP_MAYMOVE)
	if err != nil {
		return nil, fmt.Errorf("swarm: remap %d to %d bytes: %w", len(b), n, err)
	}
	return unsafe.Slice((*byte)(p), n), nil
}

func unmap(b []byte) error {
	if err := unix.MunmapPtr(unsafe.Pointer(unsafe.SliceData(b)), uintptr(len(b))); err != nil {
		return fmt.Errorf("swarm: unmap %d bytes: %w", len(b), err)
	}
	return nil
}

// zeroPages drops the pages of b: they read as zeros again and leave the resident
// set. Pages locked into RAM (process.lock_memory) refuse MADV_DONTNEED; Linux
// 5.18 and later drop them with MADV_DONTNEED_LOCKED. Clearing them by hand, the
// last resort, would bring every untouched page of b into RAM.
func zeroPages(b []byte) {
	if len(b) == 0 {
		return
	}
	if unix.Madvise(b, unix.MADV_DONTNEED) != nil && unix.Madvise(b, unix.MADV_DONTNEED_LOCKED) != nil {
		clear(b)
	}
}
