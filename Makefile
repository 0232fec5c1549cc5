# syncd — change-data-capture daemon.
#
#   make demo    replicate on throwaway local servers with the embedded NATS
#   make test    unit and end-to-end tests against real servers
#   make bench   throughput and memory, as ratios against baselines
#   make fuzz    run each fuzz target for FUZZTIME
#   make test-sqlserver  the real-server SQL Server tests, against $SYNCD_TEST_MSSQL_DSN

GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -X main.version=$(VERSION)
FUZZTIME ?= 30s
E2E      := ./test/e2e/... ./test/torture/...
TORTURE_DURATION ?= 10m
# make torture also runs the backfill killed mid-way (PostgreSQL by SIGHUP
# and by restart, MariaDB by restart) this many times, on this many rows.
TORTURE_BACKFILL_RUNS ?= 10
TORTURE_BACKFILL_ROWS ?= 60000

.PHONY: all build test unit e2e torture bench demo deps check vet check-imports check-tests fuzz clean test-sqlserver

all: build

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/syncd ./cmd/syncd

# Installs the PostgreSQL server binaries the throwaway test servers need
# (as root, with apt-get), or prints the command to do it.
deps:
	@./.ci/deps

check: vet check-imports check-tests
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

vet:
	$(GO) vet ./...

# Import invariants (DESIGN.md §2): no database driver in root packages,
# NATS only in router.
check-imports:
	@./.ci/check-imports

# Tests poll for state (testenv.Eventually); the only time.Sleep in them
# is a fault schedule marked `// sleep-ok: <reason>`.
check-tests:
	@./.ci/check-tests

test: deps check unit e2e

unit:
	$(GO) test -race -count=1 -timeout 15m $$($(GO) list ./... | grep -v -e /test/e2e -e /test/torture)

e2e: build
	SYNCD_BIN=$(CURDIR)/bin/syncd $(GO) test -count=1 -timeout 30m $(E2E)

# Layer 4 of the SQL Server tests (docs/sqlserver.md): capture and apply
# against a real SQL Server, which `make test` cannot start. The login
# must be allowed to CREATE DATABASE; each test makes its own and drops it.
# With SYNCD_TEST_MSSQL_RECORD=DIR the tests reach the server through a
# recording proxy that saves its replies in DIR (test/tdsfake/record.go);
# copied to test/tdsfake/testdata/transcripts, `make test` replays them.
MSSQL_TESTS := -run 'TestLiveSQLServer|TestRealServer' ./capture/sqlserver ./apply/sqlserver ./test/e2e
test-sqlserver:
	@if [ -z "$$SYNCD_TEST_MSSQL_DSN" ]; then \
		echo "SYNCD_TEST_MSSQL_DSN is not set. Run the SQL Server tests against a server whose login may CREATE DATABASE, e.g.:"; \
		echo "  docker run -d -e ACCEPT_EULA=Y -e 'MSSQL_SA_PASSWORD=Syncd-Test-1' -p 1433:1433 mcr.microsoft.com/mssql/server:2022-latest"; \
		echo "  make test-sqlserver SYNCD_TEST_MSSQL_DSN='sqlserver://sa:Syncd-Test-1@localhost:1433'"; \
		exit 2; \
	fi
	$(GO) test -count=1 -v -timeout 20m $(MSSQL_TESTS)

# The long fault-injection run (docs/torture.md): a seeded workload while
# syncd, NATS and both PostgreSQL servers are killed, frozen and restarted.
# TORTURE_SEED=<n> replays a run; `make test` runs a short one. Then a
# table added under writes, its online backfill killed and resumed, again
# and again: its races show once in many runs (`make test` runs it once).
torture: deps build
	SYNCD_BIN=$(CURDIR)/bin/syncd TORTURE_DURATION=$(TORTURE_DURATION) $(GO) test -count=1 -v -timeout 90m -run TestTorture ./test/torture
	SYNCD_BIN=$(CURDIR)/bin/syncd SYNCD_BACKFILL_ROWS=$(TORTURE_BACKFILL_ROWS) $(GO) test -count=$(TORTURE_BACKFILL_RUNS) -timeout 90m -run 'TestBackfillResumesAfterKill' ./test/e2e

bench: deps build
	SYNCD_BIN=$(CURDIR)/bin/syncd $(GO) run ./test/bench $(BENCH_FLAGS)

demo: deps build
	SYNCD_BIN=$(CURDIR)/bin/syncd $(GO) run ./examples/demo

# Every Fuzz function in the tree, each for FUZZTIME: the packages are
# those with a `func Fuzz` in a test file, the targets what `go test -list`
# finds in them, so a new fuzz test runs without being listed here.
fuzz:
	@set -e; for pkg in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		list=$$($(GO) test -list '^Fuzz' $$pkg); \
		for f in $$(echo "$$list" | grep '^Fuzz'); do \
			echo "$(GO) test -run=NONE -fuzz='^$$f\$$' -fuzztime=$(FUZZTIME) $$pkg"; \
			$(GO) test -run=NONE -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$pkg; \
		done; \
	done

clean:
	rm -rf bin
