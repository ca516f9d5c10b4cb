package main

import (
	"bufio"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
)

// infoHash is torrent i's info-hash: SHA-1 of "swarmload-" followed by i in decimal.
// Anyone can recompute the hashes of a load (to scrape it, or to whitelist it in
// another tracker) from the torrent count alone.
func infoHash(i int) [20]byte {
	var buf [32]byte
	b := append(buf[:0], "swarmload-"...)
	b = strconv.AppendInt(b, int64(i), 10)
	return sha1.Sum(b)
}

// infoHashes computes the hashes of torrents 0..n-1 once, so that announcing does
// not hash on the hot path.
func infoHashes(n int) [][20]byte {
	hs := make([][20]byte, n)
	for i := range hs {
		hs[i] = infoHash(i)
	}
	return hs
}

// writeWhitelist writes the hashes of torrents 0..n-1 as opentracker's whitelist
// reads them: 40 lower-case hex digits a line.
func writeWhitelist(path string, n int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("swarmload: whitelist: %w", err)
	}
	w := bufio.NewWriterSize(f, 1<<16)
	var line [41]byte
	line[40] = '\n'
	for i := range n {
		h := infoHash(i)
		hex.Encode(line[:40], h[:])
		w.Write(line[:])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("swarmload: whitelist: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("swarmload: whitelist: %w", err)
	}
	return nil
}
