# syncd — change-data-capture daemon.
#
#   make demo    replicate on throwaway local servers with the embedded NATS
#   make test    unit and end-to-end tests against real servers
#   make bench   throughput and memory, as ratios against baselines
#   make fuzz    run each fuzz target for FUZZTIME

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 30s
E2E      := ./test/e2e/...

.PHONY: all build test unit e2e bench demo deps check vet check-imports fuzz clean

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/syncd ./cmd/syncd

# Installs the PostgreSQL server binaries the throwaway test servers need
# (as root, with apt-get), or prints the command to do it.
deps:
	@./.ci/deps

check: vet check-imports
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

vet:
	$(GO) vet ./...

# Import invariants (DESIGN.md §2): no database driver in root packages,
# NATS only in router.
check-imports:
	@./.ci/check-imports

test: deps check unit e2e

unit:
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v /test/e2e)

e2e: build
	SYNCD_BIN=$(CURDIR)/bin/syncd $(GO) test -count=1 -timeout 30m $(E2E)

bench: deps build
	SYNCD_BIN=$(CURDIR)/bin/syncd $(GO) run ./test/bench $(BENCH_FLAGS)

demo: deps build
	SYNCD_BIN=$(CURDIR)/bin/syncd $(GO) run ./examples/demo

fuzz:
	$(GO) test -run=NONE -fuzz=FuzzParse -fuzztime=$(FUZZTIME) ./scopes/filter
	$(GO) test -run=NONE -fuzz=FuzzLoad -fuzztime=$(FUZZTIME) ./scopes
	$(GO) test -run=NONE -fuzz=FuzzDecodeArray -fuzztime=$(FUZZTIME) ./capture/postgres

clean:
	rm -rf bin
