// Package graph extracts Microsoft Graph v1.0 into the graph_* warehouse tables: users (with signInActivity and
// assignedLicenses), the display names of the groups that assign licenses, subscribedSkus, interactive sign-ins by
// time window, and the usage reports' concealment setting.
//
// Each stream pages its endpoint through a pages.Pager (extract/odata in production), decodes one page at a time into
// reused Arrow builders (table.Batcher) and hands full record batches to a table.Sink, so memory is bounded by the
// batch size whatever the tenant's size. Page decoding is all-or-nothing: a page that does not parse appends nothing
// and is reported as odata.ErrBadPage so the pager fetches it again.
//
// The extractor neither retries nor paces requests (the pager does) nor writes files (the sink does). It knows what
// Graph means: the Entra ID P1 fallback for signInActivity, and which permission a 403 is missing.
//
// Source (source.go) is Graph as a source of extract/source: a token first, then the tenant's streams (the
// users' stream with the sign-ins' on one gate of the reporting APIs), the sign-in settings (signin-…) and the
// checks of `seatlake check` (check.go).
package graph
