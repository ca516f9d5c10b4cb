// Package memlock keeps the tracker's memory out of swap. Peer records, request
// buffers and the store's mappings are all plain process memory; on a Raspberry
// Pi that swaps to its SD card (dphys-swapfile, rpi-swap) idle pages of them would
// be written to the card and outlive the power. Locked pages are never swapped.
package memlock
