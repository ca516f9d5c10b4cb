# swarmlight — the two commands that matter are `make run` and `make test`.

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
BUILD    := CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)"
CONFIG   ?= configs/swarmlight.yaml

.PHONY: run test build cross deb bench bench-memory bench-rate soak clean

## run: start the tracker here (simulated hardware), printing the announce URLs;
## the simulated display is kept up to date in bin/panel.png
run: build
	@echo "simulated front panel: $(CURDIR)/bin/panel.png"
	./bin/swarmlight serve --config $(CONFIG) --panel.mode sim --panel.sim_png bin/panel.png

## test: every test — vet, unit, end-to-end, fuzz seed corpora, race detector, ARM build
test:
	./scripts/test.sh

## build: the binary for this machine, in bin/
build:
	$(BUILD) -o bin/swarmlight ./cmd/swarmlight

## cross: static binaries for every supported board, in dist/, with their sizes
cross:
	@mkdir -p dist
	GOOS=linux GOARCH=arm GOARM=6 $(BUILD) -o dist/swarmlight-linux-armv6 ./cmd/swarmlight
	GOOS=linux GOARCH=arm GOARM=7 $(BUILD) -o dist/swarmlight-linux-armv7 ./cmd/swarmlight
	GOOS=linux GOARCH=arm64 $(BUILD) -o dist/swarmlight-linux-arm64 ./cmd/swarmlight
	GOOS=linux GOARCH=amd64 $(BUILD) -o dist/swarmlight-linux-amd64 ./cmd/swarmlight
	@cd dist && for f in swarmlight-linux-*; do printf '%-28s %8d bytes\n' $$f $$(stat -c %s $$f); done

## deb: Debian packages in dist/ — swarmlight_<version>_{armhf,arm64,amd64}.deb (armhf is
## the ARMv6 binary: every Pi) — installing the binary, config, systemd unit and udev rule
deb: cross
	./scripts/build-deb

## e2e: real BitTorrent clients (transmission, aria2, libtorrent) swap a file through the tracker, in network namespaces (needs root)
.PHONY: e2e
e2e:
	./scripts/e2e.sh

## bench: the store, parser and announce benchmarks with memory figures
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./appliance/...

## bench-memory: the real binary's memory under 1M–5M peers announced over UDP from
## loopback, next to Debian's opentracker in the same run (BENCHMARKS.md); a few minutes
## bench-rate: announces per second and tracker CPU per announce, same set-up
## BENCHFLAGS passes more flags, e.g. make bench-memory BENCHFLAGS=--runs=3
# Installing opentracker enables its service, a tracker on every address's port 6969:
# it is stopped and disabled, since the benchmark starts its own on loopback.
bench-memory bench-rate: build
	$(BUILD) -o bin/swarmload ./cmd/swarmload
	@against=--against=opentracker; \
	if ! command -v opentracker >/dev/null 2>&1 && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing opentracker (Debian's, for comparison)"; \
		{ apt-get install -y --no-install-recommends opentracker || { apt-get update && apt-get install -y --no-install-recommends opentracker; }; } >/dev/null 2>&1 || true; \
		if command -v systemctl >/dev/null 2>&1; then systemctl disable --now opentracker >/dev/null 2>&1 || true; fi; \
	fi; \
	if ! command -v opentracker >/dev/null 2>&1; then \
		echo "SKIP: opentracker column: opentracker is not installed (apt-get install opentracker, as root)"; against=; \
	fi; \
	./bin/swarmload $(subst bench-,,$@) --binary bin/swarmlight $$against $(BENCHFLAGS)

## soak: the fault and soak suite, on loopback, not part of make test: kill -9 and a
## restart, a SIGHUP storm and a full disk under load, a wall-clock jump, then each
## parser fuzzed for SOAK_FUZZTIME (default 10m, so about 40 minutes in all; e.g.
## make soak SOAK_FUZZTIME=30s); ends with a table of its figures
SOAK_FUZZTIME ?= 10m
soak: build
	SOAK_FUZZTIME=$(SOAK_FUZZTIME) ./scripts/soak.sh

clean:
	rm -rf bin dist
