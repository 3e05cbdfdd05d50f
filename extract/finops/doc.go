// Package finops reads one Dynamics 365 Finance and Operations environment through its OData service, /data/:
// SystemUsers into finops_users, SecurityRoles into finops_security_roles and SecurityUserRoles into
// finops_user_roles, with cross-company=true (all legal entities) and the service's server-driven pages of up to
// 10,000 rows.
//
// Before extracting, CheckMetadata reads /data/$metadata once and verifies that each entity and selected property
// exists, so a missing one is named (entity, property, environment) instead of failing as a bare 400. F&O keeps no
// usage log over OData: activity evidence for F&O users is the Entra sign-ins to the F&O resource, which the Graph
// extraction lands in graph_signins with their resource id.
package finops
