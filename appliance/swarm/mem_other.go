//go:build !linux

package swarm

// Elsewhere regions are ordinary heap memory: pointer-free, so never scanned, but
// counted by the garbage collector. Only Linux builds ship.

var pageSize = 4096

func mapAnon(n int) ([]byte, error) { return make([]byte, n), nil }

func remap(b []byte, n int) ([]byte, error) {
	nb := make([]byte, n)
	copy(nb, b)
	return nb, nil
}

func unmap([]byte) error { return nil }

func zeroPages(b []byte) { clear(b) }
