// Package msauth gets OAuth2 client-credentials tokens from the Microsoft identity platform, one token source per
// resource (Microsoft Graph, each Dataverse environment, each F&O environment), scope "<resource>/.default".
//
// Tokens are cached and refreshed ahead of expiry, and dropped on demand when a service answers 401. Errors from the
// token endpoint become *AuthError, whose message names the AADSTS code and what to do about it. The client secret
// is a Secret: it prints, logs and marshals as "[redacted]" and only Reveal gives its value.
package msauth
