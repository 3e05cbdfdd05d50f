// Package odata is the one pager all sources share (Microsoft Graph, Dataverse, Finance and Operations), over the
// outbound HTTP client (internal/outbound: credentials, retries, Retry-After, typed errors, accounting, gates).
//
// Contracts:
//   - Walk follows @odata.nextLink verbatim until it is absent; it never rebuilds a link (Dataverse paging cookies
//     and Graph skiptokens are opaque). A page may hold zero items. A nextLink to another scheme or host, or to the
//     page itself, stops the walk with an error: the bearer token is never sent elsewhere, and a loop never spins.
//   - A page the decoder rejects as ErrBadPage (truncated JSON) is fetched again, after a backoff counted as a
//     retry, at most RetryPolicy.MaxAttempts times; decoders are all-or-nothing.
//   - Error answers are read in the OData shape (ReadError): *outbound.Error carries Graph's or Dataverse's error
//     code, message and request id, so callers decide with errors.As, never by matching strings.
package odata
