// Package scaleout holds only tests: many real `seatlake run` processes, one per simulated tenant, committing at
// once into one shared Iceberg catalog (a private PostgreSQL) and one object store (Azurite or moto's S3), then
// read back through `seatlake query` against each tenant's /_sim/truth.
//
// It is a package of its own, apart from cmd/seatlake, so that `go test ./...` runs it beside cmd/seatlake's long
// CLI tests instead of after them. Its TestMain builds the seatlake binary once (go build ./cmd/seatlake) and every
// test runs that binary as a user would.
package scaleout
