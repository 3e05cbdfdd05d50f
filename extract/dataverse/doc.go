// Package dataverse reads one Dataverse environment (Dynamics 365 Customer Engagement, Power Apps) through its Web
// API, /api/data/v9.2/: systemusers into dataverse_users, the organization's audit settings into
// dataverse_audit_settings, and user-driven audit records (user access, actions 64 and 65; record changes, actions
// 1-3) by createdon window into dataverse_audits.
//
// Paging is the shared odata pager's: the caller's client sends Prefer: odata.maxpagesize=5000 on every page and
// follows the paging-cookie nextLink verbatim. Every row carries the environment URL and the organization id, so
// many environments land side by side in one table. Pages are decoded into Arrow builders and flushed every
// BatchRows rows: memory is bounded by the batch, not by the environment.
package dataverse
