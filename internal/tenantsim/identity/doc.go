// Package identity emulates the Microsoft identity platform of the simulated tenant: the client-credentials token
// endpoint (client secret or certificate assertion, AADSTS error bodies), OpenID discovery and the JWKS of the key
// tokens are signed with, the managed identity endpoint of an Azure host, and the simulator's own TLS (a CA and a
// server certificate for loopback). Every fact it relies on is in extract/msauth/testdata/README.md.
//
// Contracts:
//   - Tokens are RS256 JWTs for one audience: Graph (AudGraph) or one Dynamics environment (its URL is the resource);
//     a service accepts a token for its own audience only (Platform.Check).
//   - A token expires after Options.TokenLifetime on the kit's clock, or when the ExpireTokens fault revokes every
//     token issued so far (Platform.ExpireAll).
//   - Graph tokens carry the application permissions the app holds in their roles claim.
package identity
