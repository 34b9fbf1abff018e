# spiral — see README.md.
GO      ?= go
BIN     := bin/spiral
PKGS    := ./...
FUZZTIME ?= 30s
SOAKTIME ?= 10m

.PHONY: build test demo bench fuzz soak vet deps clean

build:
	$(GO) build -o $(BIN) ./cmd/spiral
	$(GO) build -o bin/spiral-bench ./cmd/spiral-bench

deps:
	./scripts/ensure-deps.sh

vet:
	$(GO) vet $(PKGS)

# The whole test suite: unit, integration (each package starts its own
# throw-away PostgreSQL, or uses SPIRAL_TEST_DSN) and fuzz seed corpora.
test: deps vet
	$(GO) test -count=1 -timeout 15m $(PKGS)

# Build and run the demo: a throw-away PostgreSQL with demo data behind the proxy.
demo: deps
	$(GO) build -o $(BIN) ./cmd/spiral
	$(BIN) demo

# Benchmarks: side-by-side ratios printed as tables. Not part of `make test`.
bench: deps
	./scripts/ensure-deps.sh bench
	$(GO) build -o $(BIN) ./cmd/spiral
	$(GO) run ./cmd/spiral-bench proxy --spiral-bin $(BIN)
	$(GO) run ./cmd/spiral-bench stats
	$(GO) test -run '^$$' -bench . -benchmem ./stats/... ./zorder/...
	$(GO) run ./cmd/spiral-bench ingest
	$(GO) run ./cmd/spiral-bench backfill
	$(GO) run ./cmd/spiral-bench lag
	$(GO) run ./cmd/spiral-bench rewrite
	$(GO) run ./cmd/spiral-bench percentiles

# Runs every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# The rewrite differential test (internal/engine/rewrite_diff_test.go) for
# SOAKTIME per test: random tracked tables, histories and queries, through
# the proxy and directly, compared; then the concurrent reader. Each
# mismatch prints its seed and a reproducer. SPIRAL_DIFF_SEED=N replays one.
soak: deps
	SPIRAL_SOAK=$(SOAKTIME) $(GO) test -count=1 -timeout 0 -v -run '^TestRewriteDiff' ./internal/engine/

clean:
	rm -rf bin
