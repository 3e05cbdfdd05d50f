# seatlake: `make demo` and `make test` are the two commands a fresh machine needs (Go and gcc for DuckDB's cgo).
GO      ?= go
BIN     := bin/seatlake
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

# Azurite, the Azure Blob emulator the warehouse tests start (internal/testservices), from the npm registry into a
# cache folder that is not committed; the stamp names the version, so changing it installs again.
AZURITE_VERSION := 3.37.0
AZURITE_STAMP   := .cache/azurite/installed-$(AZURITE_VERSION)
# icebird, hyparam's JavaScript Apache Iceberg reader: the tests read every table with it as a second Iceberg
# implementation (cmd/seatlake/testdata/readers), installed the same way.
ICEBIRD_VERSION := 0.3.1
ICEBIRD_STAMP   := .cache/icebird/installed-$(ICEBIRD_VERSION)
# DuckDB's Node.js client: the same test opens seatlake.duckdb with it, as the duckdb CLI would.
DUCKDB_NODE_VERSION := 1.5.6-r.1
DUCKDB_NODE_STAMP   := .cache/duckdb-node/installed-$(DUCKDB_NODE_VERSION)

.PHONY: build demo install test vet bench clean report-check azurite icebird duckdb-node

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/seatlake

demo: build
	./$(BIN) demo

# seatlake on your PATH: go install writes it to $GOBIN, else $(go env GOPATH)/bin.
install:
	$(GO) install -ldflags "$(LDFLAGS)" ./cmd/seatlake
	@echo "installed $$(d=$$($(GO) env GOBIN); echo $${d:-$$($(GO) env GOPATH)/bin})/seatlake (have that directory on your PATH)"

# The warehouse tests start PostgreSQL (Debian's postgresql), Azurite (below) and moto_server themselves on loopback;
# each one missing is a skip that says so (SEATLAKE_REQUIRE_SERVICES=1, as in .ci/run, makes it a failure).
test: azurite icebird duckdb-node
	$(GO) vet ./...
	$(GO) test -count=1 -timeout 40m ./...

# The report page as a browser shows it: Debian's chromium renders it headless and the test checks the charts are on
# screen (make test runs it too, whenever chromium is installed).
report-check:
	@command -v chromium >/dev/null || { echo "report-check needs chromium: apt-get install chromium"; exit 2; }
	SEATLAKE_REQUIRE_CHROMIUM=1 $(GO) test -count=1 -run 'TestReportScreenshot|TestCLIReport' ./cmd/seatlake

# npm_install TARGET,PACKAGE@VERSION,WHAT-SKIPS: the package into .cache/TARGET, then the stamp; without npm, a line
# saying which tests skip.
npm_install = @if ! command -v npm >/dev/null 2>&1; then \
	  echo "make $(1): no npm here, so $(3) (apt-get install npm)"; \
	else \
	  npm install --prefix .cache/$(1) --no-audit --no-fund --loglevel=error --save-exact $(2) && touch $@; \
	fi

azurite: $(AZURITE_STAMP)
$(AZURITE_STAMP):
	$(call npm_install,azurite,azurite@$(AZURITE_VERSION),the tests that need Azurite skip)

icebird: $(ICEBIRD_STAMP)
$(ICEBIRD_STAMP):
	$(call npm_install,icebird,icebird@$(ICEBIRD_VERSION),the second-reader test skips)

duckdb-node: $(DUCKDB_NODE_STAMP)
$(DUCKDB_NODE_STAMP):
	$(call npm_install,duckdb-node,@duckdb/node-api@$(DUCKDB_NODE_VERSION),the second-reader test skips its DuckDB check)

bench: build
	$(GO) run ./internal/bench

clean:
	rm -rf bin seatlake-demo
