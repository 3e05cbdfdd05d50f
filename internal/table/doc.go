// Package table declares the warehouse tables that extractors produce, once, as data.
//
// A Table names its columns with explicit Arrow types and flags the key and incremental-key columns; the Arrow
// schema is derived from that declaration and never inferred from a page of JSON, so a column's type cannot drift
// with the data. Loaders, the catalog and the extractors all read the same declaration.
//
// Batcher owns one reused RecordBuilder per table and hands a RecordBatch to its sink every N rows, so memory is
// bounded by the batch size, never by the size of the tenant.
package table
