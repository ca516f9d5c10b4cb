#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it. Under CI=true a tool that is
# missing is a failure, never a silent skip.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}

step() { printf '\n== %s\n' "$*"; }

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change: $unformatted" >&2
	exit 1
fi

step "go vet"
$GO vet ./...

step "ARMv6 build (Pi Zero / Pi 1), no cgo"
CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=6 $GO build -o /dev/null ./...

step "tests"
CGO_ENABLED=0 $GO test -count=1 ./...

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
