// Package tenantsim serves a simulated Microsoft tenant on loopback: the identity platform's token endpoint and
// Microsoft Graph (users, subscribedSkus, auditLogs/signIns, admin/reportSettings), deterministic from a seed.
//
// It is an independent implementation of the services as documented in
// ../shared/reference/microsoft-and-asset-apis.md and shares no code with the extractors, so tests against it
// prove something. It behaves like the services where seatlake depends on them: exact field names, the default
// property set, $select, $top caps, $filter on createdDateTime, newest-first sign-ins, opaque $skiptoken nextLinks,
// AADSTS and Graph error bodies, Entra ID P1 gating, service limits answered with 429 + Retry-After, and injectable
// faults (5xx, resets, truncated bodies, slow pages, expired tokens).
//
// Pages are generated on the fly: sign-ins are a pure function of (seed, minute bucket, index), so a tenant with
// 10,000,000 sign-ins costs the memory of its users only. GET /_sim/truth says what a default run must load.
package tenantsim
