# seatlake: `make demo` and `make test` are the two commands a fresh machine needs (Go and gcc for DuckDB's cgo).
GO      ?= go
BIN     := bin/seatlake
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build demo test vet bench clean report-check

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/seatlake

demo: build
	./$(BIN) demo

test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

# The report page as a browser shows it: Debian's chromium renders it headless and the test checks the charts are on
# screen (make test runs it too, whenever chromium is installed).
report-check:
	@command -v chromium >/dev/null || { echo "report-check needs chromium: apt-get install chromium"; exit 2; }
	SEATLAKE_REQUIRE_CHROMIUM=1 $(GO) test -count=1 -run 'TestReportScreenshot|TestCLIReport' ./cmd/seatlake

bench: build
	$(GO) run ./internal/bench

clean:
	rm -rf bin seatlake-demo
