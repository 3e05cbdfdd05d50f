// Package outbound is the one HTTP client every outbound call goes through: the extractors' pages, the token
// requests, the asset sinks and reclaim.
//
// Contracts:
//   - Each attempt has its own timeout (RequestTimeout, body included); the caller's context bounds them all.
//   - 429, 500, 502, 503, 504, connection resets, truncated bodies and per-attempt timeouts are retried, honouring
//     Retry-After (seconds, fractional too, or an HTTP date) and otherwise a capped exponential backoff with full
//     jitter, until RetryPolicy.MaxAttempts or MaxTotalWait; then the error says what, how often and how long.
//     A 429 with Retry-After does not use up MaxAttempts (the service said when to come back): MaxTotalWait bounds
//     it. Certificate errors, unbuildable requests and Final errors are not retried: an untrusted certificate comes
//     back as *CertificateError, which names the problem and the fix (SSL_CERT_FILE).
//   - With a TokenSource, a 401 drops the token and the request is sent once more with a new one; with fixed
//     credentials (Authorize) a 401 is final. Other 4xx answers are not retried. Every non-success answer comes
//     back as *Error with the status, the service's error code and message (Config.ReadError reads the service's
//     shape), the request id and Retry-After, so callers decide with errors.As, never by matching strings.
//   - Retry runs what is not a plain request (a token request made through a library) under the same rules.
//   - Every request, retry, 429, token refresh, byte and second waited is counted in Stats; a shared Gate makes
//     every request on it pause when one of them is told to wait, so concurrent windows do not storm a throttled
//     API.
//   - Logs and errors carry no token and no query string (Redact).
package outbound
