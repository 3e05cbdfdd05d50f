// Package finopssim emulates the Finance and Operations OData service of one environment: /data/$metadata,
// /data/SystemUsers, /data/SecurityRoles and /data/SecurityUserRoles, with server-driven pages of 10,000 rows,
// $select, $filter, $top/$skip, cross-company, and resource-based 429s when too many requests run at once. Every
// fact and the page it comes from: extract/finops/testdata/README.md.
//
// In this simulated environment users and their role assignments belong to legal entities, so a client that leaves
// out cross-company=true sees only the rows of its default company (USMF): the failure the option exists to avoid.
// The roles served are the model's, read under its FinOpsMu: business events' role changes show at once.
package finopssim
