#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Under CI=true a tool that is
# missing is a failure, never a silent skip.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

step() { printf '\n== %s\n' "$*"; }

# need CMD PACKAGE: make sure a tool from a Debian package is here, installing it
# when we can. Returns non-zero when it cannot be had; the caller decides whether
# that is a skip or (under CI=true) a failure.
need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "installing $2 (for $1)"
		{ apt-get install -y --no-install-recommends "$2" || { apt-get update && apt-get install -y --no-install-recommends "$2"; }; } >/dev/null 2>&1 || true
	fi
	command -v "$1" >/dev/null 2>&1
}

# missing TOOL WHY: outside CI say what is skipped; under CI=true fail.
missing() {
	if [ "${CI:-}" = true ]; then
		echo "FAIL: $1 is missing ($2); CI=true makes this a failure" >&2
		exit 1
	fi
	echo "SKIP: $1 is missing: $2"
}

step "tools"
# The ARM emulator is needed by the unit tests too (the ARMv6 smoke test).
need qemu-arm-static qemu-user-static || missing qemu-arm-static "apt-get install qemu-user-static"
# The status page's browser test drives headless Chromium.
need chromium chromium || missing chromium "apt-get install chromium"

step "gofmt"
# Every Go file, tracked or new; word splitting is wanted (no Go file has a space).
# shellcheck disable=SC2046
unformatted=$(gofmt -l $(git ls-files --cached --others --exclude-standard '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

step "go vet"
$GO vet ./...
# The soak suite (make soak) is behind a build tag: vet keeps it compiling.
$GO vet -tags soak ./scripts/soak

step "ARMv6 build (Pi Zero / Pi 1), no cgo"
CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $GO build -o /dev/null ./...

step "tests"
CGO_ENABLED=0 $GO test -count=1 ./...

# The core packages' tests again, on the boards' instruction sets: 32-bit ARMv6 as
# on a Pi Zero (64-bit atomics and alignment bugs show here) and arm64.
step "tests on ARMv6 (qemu, ARM1176) and arm64 (qemu)"
if command -v qemu-arm-static >/dev/null && need qemu-aarch64-static qemu-user-static; then
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $GO test -count=1 -exec "qemu-arm-static -cpu arm1176" ./appliance/... ./hw/...
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $GO test -count=1 -exec qemu-aarch64-static ./appliance/... ./hw/...
else
	missing qemu-user-static "apt-get install qemu-user-static"
fi

# The store and the tracker are shared by goroutines: run them under the race
# detector, which needs cgo and a C compiler.
step "race detector"
if command -v "${CC:-cc}" >/dev/null 2>&1; then
	CGO_ENABLED=1 $GO test -race -count=1 ./appliance/...
elif [ "${CI:-}" = true ]; then
	echo "race detector needs a C compiler (apt-get install gcc); CI=true makes this a failure" >&2
	exit 1
else
	echo "SKIP: no C compiler for the race detector (apt-get install gcc)"
fi

# Real BitTorrent clients nobody here wrote (transmission, aria2, libtorrent) must
# find each other only through the tracker and move a file, over HTTP and UDP, in
# network namespaces. Needs root: skipped without it outside CI, a failure under
# CI=true.
# From source to a running box: the systemd unit (verified, its syscall filter
# checked against the tracker's real syscalls), the .deb (built, installed,
# upgraded, purged in an overlay root), the flashable image (built from a synthetic
# Raspberry Pi OS layout, checked with debugfs/mtools/e2fsck) and the SSH installer.
step "packaging: systemd unit, .deb, flashable image, SSH install"
./scripts/test-package.sh

step "end-to-end with real BitTorrent clients"
./scripts/e2e.sh
