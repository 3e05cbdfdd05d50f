// Package tenantsim serves a simulated Microsoft tenant on loopback, deterministic from a seed: the identity
// platform, Microsoft Graph, and each Dynamics 365 environment (Dataverse, Finance and Operations) on a port of its
// own; it sends F&O business events too, and says what a run against it must find (GET /_sim/truth).
//
// It is an independent implementation of the services as documented, and shares no code with seatlake's
// extractors, so tests against it prove something. It behaves like the services where seatlake depends on them:
// exact field names, default property sets, $select/$filter/$top, paging tokens and cookies on the host the client
// called, the services' error bodies, Entra ID P1 gating, service limits answered with 429 + Retry-After, and
// injectable faults (5xx, resets, truncated bodies, slow pages, expired tokens).
//
// This package is the facade the rest of seatlake uses (Config, New, Start, Truth, InjectFault, …). It composes one
// package per part:
//   - model: the generated tenant (directory, sign-in log, usage report, Dynamics environments), and truth: what a
//     run must find in it, computed from how it was built;
//   - simkit: what every emulator shares (the Kit: seed, request ids, faults, counters, reply buffers, clock; the
//     Dynamics pipeline; the OData $filter engine; limits' shapes); ids: the seeded hashes and GUIDs;
//   - identity: the token endpoint, discovery, managed identity, TLS;
//   - graphsim (with graphsim/signins and graphsim/userfilter), dataversesim, finopssim: one package per service,
//     each built over the model and the kit and answering as an http.Handler;
//   - eventsim: the F&O business events' plan, their role changes, and the sender.
//
// Contracts:
//   - Same Config (seed, sizes, Now) => byte-identical pages, except per-request ids and error timestamps
//     (TestGolden holds the pages and the truth of two tenants).
//   - Pages are generated on the fly: the tenant holds its users, not its sign-ins (TestLargeTenantHoldsNoSignIns:
//     under 100 MiB for 100,000 users and 10,000,000 sign-ins; measured once on 2026-12-06 on the shared 2-core
//     machine under a load of about 6: 66 MiB of heap, 6.4 s to build, 2.5 s of it without the sign-ins).
//   - GET /_sim/truth (Sim.Truth) says how many rows a default run must load per raw table, and what the marts must
//     conclude.
//
// A further service is a package beside the others that takes the model and the kit and returns an http.Handler,
// an audience in identity if it checks tokens, and a line in New (and in Start if it has a host of its own).
package tenantsim
