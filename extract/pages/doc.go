// Package pages is what every extractor (extract/graph, extract/dataverse, extract/finops) shares between the
// pager (extract/odata) and its tables (internal/table): the run an extractor reads for, and the loop that decodes
// an OData collection's pages into a table's batcher.
//
// Contracts:
//   - Run is embedded by every Extractor: its fields (tenant, run id, extraction time, batch size, allocator,
//     logger, rejects) are set once by the caller and read concurrently by the extractor's streams.
//   - Rows appends a page's items in order and counts a page only once all of its items are appended. A body that
//     does not decode is an odata.ErrBadPage (Bad), so the pager fetches it again; since a truncated body never
//     decodes, nothing of it is appended.
//   - An item the extractor cannot load goes to Run.Reject as raw JSON (SetAside), never silently dropped.
package pages
