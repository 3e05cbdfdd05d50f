// Package graphsim emulates Microsoft Graph v1.0 for the simulated tenant: users (with $select, $filter, $search,
// $orderby, $count and /users/{id}), groups, subscribedSkus, assignLicense, auditLogs/signIns (package signins),
// admin/reportSettings and the usage reports, behind Graph's front door: injected faults, the bearer token, the
// application permissions the app holds (403), the service limits (429 with Retry-After), Graph's error bodies.
// Every fact it relies on is in extract/graph/testdata/README.md.
//
// Contracts:
//   - It behaves like Graph where seatlake depends on it: exact field names, the default property set, $top caps,
//     opaque $skiptoken nextLinks on the host the client called, Entra ID P1 gating of signInActivity and the
//     sign-in log, the usage report's 302 to a download that needs no token and names users by hash when names
//     are concealed.
//   - Pages are rendered from the model, never stored; the same requests give the same bytes.
//   - assignLicense changes the model under its DirectoryMu; every reader of licenses holds it for reading.
package graphsim
