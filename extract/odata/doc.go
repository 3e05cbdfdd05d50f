// Package odata is the one HTTP pager all sources share (Microsoft Graph, Dataverse, Finance and Operations).
//
// Contracts:
//   - Walk follows @odata.nextLink verbatim until it is absent; it never rebuilds a link (Dataverse paging cookies
//     and Graph skiptokens are opaque). A page may hold zero items. A nextLink to another scheme or host, or to the
//     page itself, stops the walk with an error: the bearer token is never sent elsewhere, and a loop never spins.
//   - 429, 500, 502, 503, 504, connection resets, truncated bodies and per-attempt timeouts are retried, honouring
//     Retry-After (seconds, fractional too, or an HTTP date) and otherwise a capped exponential backoff with full
//     jitter, until RetryPolicy.MaxAttempts or MaxTotalWait; then the error says what, how often and how long.
//     A 429 with Retry-After does not use up MaxAttempts (the service said when to come back): MaxTotalWait bounds
//     it. Certificate errors and unbuildable requests are not retried: an untrusted certificate comes back as
//     *CertificateError, which names the problem and the fix (SSL_CERT_FILE).
//   - A 401 drops the token and retries once with a new one. Other 4xx answers are not retried: they come back as
//     *HTTPError with the service's error code, so callers decide with errors.As, never by matching strings.
//   - A page the decoder rejects as ErrBadPage (truncated JSON) is fetched again; decoders are all-or-nothing.
//   - Every request, retry, 429 and second waited is counted in Stats; a shared Gate makes every request on it
//     pause when one of them is told to wait, so concurrent windows do not storm a throttled API.
package odata
