// Package tenantsim serves a simulated Microsoft tenant on loopback: the identity platform's token endpoint and
// Microsoft Graph (users, subscribedSkus, auditLogs/signIns, admin/reportSettings), deterministic from a seed.
//
// It is an independent implementation of the services as documented in the shared API reference, and shares no
// code with seatlake's extractors, so tests against it prove something. It behaves like the services where
// seatlake depends on them: exact field names, the default property set, $select, $top caps, $filter on
// createdDateTime, newest-first sign-ins, opaque $skiptoken nextLinks on the host the client called, AADSTS and
// Graph error bodies, Entra ID P1 gating (403), service limits answered with 429 + Retry-After, and injectable
// faults (5xx, resets, truncated bodies, slow pages, expired tokens).
//
// Contracts:
//   - Same Config (seed, sizes, Now) => byte-identical pages, except per-request ids and error timestamps.
//   - Pages are generated on the fly. The history is cut into one-minute buckets whose event counts come from a
//     formula (totals are exact without generating anything) and whose events are a pure function of (seed,
//     bucket, index); a page token carries the filter bounds and the position. A 100,000-user tenant with
//     10,000,000 sign-ins costs about 40 MB and under a second to build.
//   - signInActivity agrees with the log: lastSignInDateTime (and RequestId) is the user's newest interactive
//     sign-in in the log, failed or not; lastSuccessfulSignInDateTime the newest successful one or a later
//     non-interactive sign-in. Idle users have months-old activity and nothing in the log; users who never signed
//     in have signInActivity null.
//   - GET /_sim/truth (Sim.Truth) says how many rows a default run must load per raw table.
//
// Files: sim.go (config, server), token.go (OAuth2), graph*.go (Graph endpoints), model.go and events.go (the
// tenant), catalog.go (SKUs, apps, names), throttle.go, faults.go, stats.go, truth.go. Dataverse and Finance and
// Operations slot in as further audiences in token.go and endpoint files registered in Sim.routes.
package tenantsim
