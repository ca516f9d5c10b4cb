package main

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestInfoHash(t *testing.T) {
	// Reference values from another implementation:
	// python3 -c 'import hashlib; print(hashlib.sha1(b"swarmload-0").hexdigest())'
	tests := []struct {
		i    int
		want string
	}{
		{0, "f7c9f97601f7d90ffce9b32e48a7e39eb000594e"},
		{1, "6d88f00246dff2d54d59f6754b5707cd018e4f93"},
		{999999, "7f09867f6c9f6beb54c68114bf19cfed6ef792f5"},
	}
	for _, tt := range tests {
		h := infoHash(tt.i)
		if got := hex.EncodeToString(h[:]); got != tt.want {
			t.Errorf("infoHash(%d) = %s, want %s", tt.i, got, tt.want)
		}
	}
	hs := infoHashes(1000)
	for i, h := range hs {
		if h != infoHash(i) {
			t.Fatalf("infoHashes()[%d] differs from infoHash(%d)", i, i)
		}
	}
}

func TestWriteWhitelist(t *testing.T) {
	tests := []struct {
		name string
		n    int
	}{
		{"one hash", 1},
		{"a thousand", 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "whitelist.txt")
			if err := writeWhitelist(path, tt.n); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(lines) != tt.n || !strings.HasSuffix(string(b), "\n") {
				t.Fatalf("%d lines (ending in a newline: %v), want %d", len(lines), strings.HasSuffix(string(b), "\n"), tt.n)
			}
			for i, line := range lines {
				h := infoHash(i)
				if line != hex.EncodeToString(h[:]) {
					t.Fatalf("line %d is %q, want the hex of infoHash(%d)", i, line, i)
				}
			}
		})
	}
	if err := writeWhitelist(filepath.Join(t.TempDir(), "no", "such", "dir"), 1); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
}
