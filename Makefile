# seatlake: `make demo` and `make test` are the two commands a fresh machine needs (Go and gcc for DuckDB's cgo).
GO      ?= go
BIN     := bin/seatlake
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: build demo test vet bench clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/seatlake

demo: build
	./$(BIN) demo --warehouse ./warehouse

test:
	$(GO) vet ./...
	$(GO) test -count=1 ./...

bench: build
	$(GO) run ./internal/bench

clean:
	rm -rf bin warehouse
