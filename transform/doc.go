// Package transform computes the marts: the rules that turn the landed raw tables into answers. Each mart is a
// DuckDB query in sql/marts/ (readable by an analyst), run over the committed views of the warehouse with the
// tenant id bound as $1; this package declares each mart's columns, runs its query and hands the rows to a sink as
// Arrow record batches. It does no I/O of its own and never reads the clock: the caller passes the connection,
// the tenant, the run and the time.
package transform
