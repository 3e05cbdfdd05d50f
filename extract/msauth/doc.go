// Package msauth gets OAuth2 client-credentials tokens from the Microsoft identity platform, one token source per
// resource (Microsoft Graph, each Dataverse environment, each F&O environment), scope "<resource>/.default".
//
// Contracts:
//   - Tokens are cached and refreshed ExpiryDelta ahead of expiry (at the latest half-way through a short lifetime),
//     and dropped on demand (Invalidate) when a service answers 401. Concurrent callers share one token request; a
//     caller whose context ends stops waiting for it.
//   - Network failures, 429 and 5xx answers from the token endpoint are retried a few times (3 attempts, Retry-After
//     honoured), under the outbound client's rules (internal/outbound); refusals and untrusted certificates are not.
//   - Errors from the token endpoint become *AuthError, whose message names the AADSTS code and what to do about
//     it. No error or log line carries the client secret or a token.
//   - The client secret is a Secret: it prints, logs and marshals as "[redacted]" and only Reveal gives its value.
//   - Plain http:// endpoints are accepted only on loopback hosts (CheckEndpoint), for the simulator and tests.
package msauth
