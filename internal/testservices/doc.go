// Package testservices starts the real storage and catalog components seatlake's warehouse talks to, on loopback,
// for the duration of one test: a private PostgreSQL server (StartPostgres), Azurite, the Azure Blob emulator
// (StartAzurite), and moto's S3 server (StartS3). Each returns what a client needs (a postgres:// URL, a connection
// string, an endpoint with keys) and is stopped by t.Cleanup, leaving no process and no listening port behind.
// RunPostgres and RunAzurite start the same servers for a program that is not a test (make bench): they return a
// stop function, and an *UnavailableError when the program is not on the machine.
// OnFreePort starts a test's own server (the simulator, say) on a free loopback port, trying another when one is
// taken.
//
// Contracts:
//   - Every server listens on 127.0.0.1 only, on a port free when it started, with its files in a temporary folder.
//   - A test skips, saying what is missing and how to install it, only when a component cannot start at all
//     (its program is not on the machine). With SEATLAKE_REQUIRE_SERVICES=1 (set by .ci/run) that skip is a
//     failure. A component that is present but fails to start fails the test, with the tail of its log.
//   - Servers run as children of the test binary with a parent-death signal, so a test binary killed by its
//     -timeout does not leave them running.
//
// Where the programs come from: PostgreSQL from Debian's postgresql package (/usr/lib/postgresql/15/bin, or
// SEATLAKE_PG_BIN); Azurite from the npm registry, installed by `make azurite` into .cache/azurite (or
// SEATLAKE_AZURITE naming azurite-blob); moto_server from the machine's Python (or SEATLAKE_MOTO_SERVER).
package testservices
