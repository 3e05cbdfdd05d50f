// Package model is the simulated tenant every service emulator serves: the directory (users, licenses, groups,
// subscriptions, signInActivity), the sign-in log, the usage report's view of each user, and the Dynamics 365
// environments (Dataverse users, settings and audit log; F&O users, roles and role assignments). It knows nothing of
// HTTP: the emulators render it, the truth package counts it.
//
// Contracts:
//   - New is deterministic: the same Params give the same tenant, field for field.
//   - The sign-in log and the audit logs are not stored. The history is cut into buckets (a minute of sign-ins, an
//     hour of audits) whose records are a pure function of (seed, bucket, index); a bucket's count comes from a
//     formula, so totals are exact without generating anything, and a page token only needs a position.
//   - signInActivity agrees with the log: lastSignInDateTime (and RequestId) is the user's newest interactive
//     sign-in in the log, failed or not; lastSuccessfulSignInDateTime the newest successful one or a later
//     non-interactive sign-in.
//   - Every Dynamics account is planted with the way it relates to the directory (an identity method, or why it
//     matches nobody), so what the identities mart must find comes from how the tenant was built.
//   - The tenant changes after New only under its locks: DirectoryMu (licenses removed, a sign-in recorded now) and
//     FinOpsMu (F&O role changes that business events announce).
//
// Files: tenant.go (users, SKUs, signInActivity), signins.go (the sign-in log), catalog.go (SKUs, apps, names),
// licensing.go (assignment dates, groups, emergency access accounts), usage.go (the usage report), dynamics.go
// (Dataverse and F&O environments), audits.go (the Dataverse audit log).
package model
