package graph

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/internal/table"
)

var (
	str  = arrow.BinaryTypes.String
	b    = arrow.FixedWidthTypes.Boolean
	i32  = arrow.PrimitiveTypes.Int32
	ts   = table.Timestamp
	date = arrow.FixedWidthTypes.Date32
	strs = arrow.ListOf(arrow.BinaryTypes.String)
)

// The Graph tables. Names and columns are the warehouse contract; change them only with a migration note.
var (
	Users = table.New("graph_users", table.Snapshot, "",
		"Entra ID users (GET /users), with signInActivity when the tenant has Entra ID P1/P2.",
		table.Column{Name: "id", Type: str, Key: true, HighCardinality: true, Doc: "Entra object id"},
		table.Column{Name: "user_principal_name", Type: str, Nullable: true},
		table.Column{Name: "display_name", Type: str, Nullable: true},
		table.Column{Name: "mail", Type: str, Nullable: true},
		table.Column{Name: "given_name", Type: str, Nullable: true},
		table.Column{Name: "surname", Type: str, Nullable: true},
		table.Column{Name: "account_enabled", Type: b, Nullable: true},
		table.Column{Name: "user_type", Type: str, Nullable: true, Doc: "Member or Guest"},
		table.Column{Name: "created_at", Type: ts, Nullable: true, Doc: "createdDateTime"},
		table.Column{Name: "department", Type: str, Nullable: true},
		table.Column{Name: "job_title", Type: str, Nullable: true},
		table.Column{Name: "last_sign_in_at", Type: ts, Nullable: true, Doc: "signInActivity.lastSignInDateTime: last interactive attempt"},
		table.Column{Name: "last_non_interactive_sign_in_at", Type: ts, Nullable: true, Doc: "signInActivity.lastNonInteractiveSignInDateTime"},
		table.Column{Name: "last_successful_sign_in_at", Type: ts, Nullable: true, Doc: "signInActivity.lastSuccessfulSignInDateTime (since 2023-12)"},
		table.Column{Name: "sign_in_activity_available", Type: b, Doc: "false when the tenant has no Entra ID P1 and signInActivity could not be read"},
		table.Column{Name: "assigned_license_count", Type: i32},
	)

	UserLicenses = table.New("graph_user_licenses", table.Snapshot, "",
		"One row per user and assigned SKU (assignedLicenses).",
		table.Column{Name: "user_id", Type: str, Key: true},
		table.Column{Name: "user_principal_name", Type: str, Nullable: true},
		table.Column{Name: "sku_id", Type: str, Key: true},
		table.Column{Name: "disabled_plans", Type: strs, Nullable: true, Doc: "servicePlanIds switched off for this user"},
		table.Column{Name: "assigned_by_group", Type: str, Nullable: true, Doc: "licenseAssignmentStates: the group(s) the license is inherited from (ids, comma-separated); null when assigned directly. Reclaim it by removing the user from the group"},
		table.Column{Name: "assignment_state", Type: str, Nullable: true, Doc: "licenseAssignmentStates.state: Active, ActiveWithError, Disabled or Error"},
		table.Column{Name: "assigned_at", Type: ts, Nullable: true, Doc: "licenseAssignmentStates.lastUpdatedDateTime: when the assignment last changed (its assignment date, for a license assigned once)"},
	)

	Groups = table.New("graph_groups", table.Snapshot, "",
		"The groups that assign licenses (group-based licensing), with their display names: GET /groups/{id}?$select=id,displayName "+
			"for each assignedByGroup id of the users' licenseAssignmentStates. Needs GroupMember.Read.All; without it the table is empty "+
			"and the licenses keep their group ids.",
		table.Column{Name: "group_id", Type: str, Key: true, Doc: "the group's object id (licenseAssignmentStates.assignedByGroup)"},
		table.Column{Name: "display_name", Type: str, Nullable: true},
	)

	SubscribedSkus = table.New("graph_subscribed_skus", table.Snapshot, "",
		"Purchased and consumed units per SKU (GET /subscribedSkus).",
		table.Column{Name: "id", Type: str, Key: true, Doc: "<tenantId>_<skuId>"},
		table.Column{Name: "sku_id", Type: str},
		table.Column{Name: "sku_part_number", Type: str, Nullable: true},
		table.Column{Name: "applies_to", Type: str, Nullable: true, Doc: "User or Company"},
		table.Column{Name: "capability_status", Type: str, Nullable: true, Doc: "Enabled, Warning, Suspended, Deleted, LockedOut"},
		table.Column{Name: "consumed_units", Type: i32},
		table.Column{Name: "prepaid_enabled", Type: i32},
		table.Column{Name: "prepaid_warning", Type: i32},
		table.Column{Name: "prepaid_suspended", Type: i32},
		table.Column{Name: "prepaid_locked_out", Type: i32},
		table.Column{Name: "subscription_ids", Type: strs, Nullable: true},
		table.Column{Name: "service_plan_ids", Type: strs, Nullable: true},
	)

	SignIns = table.New("graph_signins", table.Event, "created_at",
		"Interactive sign-in events (GET /auditLogs/signIns), fetched by time window.",
		table.Column{Name: "id", Type: str, Key: true, HighCardinality: true},
		table.Column{Name: "created_at", Type: ts, Incremental: true, HighCardinality: true, Doc: "createdDateTime"},
		table.Column{Name: "user_id", Type: str, Nullable: true},
		table.Column{Name: "user_principal_name", Type: str, Nullable: true},
		table.Column{Name: "app_id", Type: str, Nullable: true},
		table.Column{Name: "app_display_name", Type: str, Nullable: true},
		table.Column{Name: "resource_id", Type: str, Nullable: true},
		table.Column{Name: "resource_display_name", Type: str, Nullable: true},
		table.Column{Name: "client_app_used", Type: str, Nullable: true},
		table.Column{Name: "is_interactive", Type: b, Nullable: true},
		table.Column{Name: "error_code", Type: i32, Nullable: true, Doc: "status.errorCode: 0 is success"},
		table.Column{Name: "ip_address", Type: str, Nullable: true, HighCardinality: true},
		table.Column{Name: "country_or_region", Type: str, Nullable: true, Doc: "location.countryOrRegion"},
	)

	UsageReport = table.New("graph_usage_report", table.Snapshot, "",
		"Microsoft 365 usage per user (GET /reports/getOffice365ActiveUserDetail(period='D30'), a CSV): each workload's last activity date. "+
			"When the tenant conceals report names, user_principal_name and display_name are 32-hex hashes that join to nobody.",
		table.Column{Name: "report_refresh_date", Type: date, Doc: "the day the report's data is as of (2-3 days behind)"},
		table.Column{Name: "user_principal_name", Type: str, Key: true, Doc: "the UPN, or a 32-hex hash when names are concealed"},
		table.Column{Name: "display_name", Type: str, Nullable: true},
		table.Column{Name: "name_concealed", Type: b, Doc: "user_principal_name is a 32-hex hash (^[0-9A-F]{32}$)"},
		table.Column{Name: "is_deleted", Type: b, Nullable: true},
		table.Column{Name: "deleted_date", Type: date, Nullable: true},
		table.Column{Name: "has_exchange_license", Type: b, Nullable: true},
		table.Column{Name: "has_onedrive_license", Type: b, Nullable: true},
		table.Column{Name: "has_sharepoint_license", Type: b, Nullable: true},
		table.Column{Name: "has_skype_license", Type: b, Nullable: true},
		table.Column{Name: "has_yammer_license", Type: b, Nullable: true},
		table.Column{Name: "has_teams_license", Type: b, Nullable: true},
		table.Column{Name: "exchange_last_activity", Type: date, Nullable: true},
		table.Column{Name: "onedrive_last_activity", Type: date, Nullable: true},
		table.Column{Name: "sharepoint_last_activity", Type: date, Nullable: true},
		table.Column{Name: "skype_last_activity", Type: date, Nullable: true},
		table.Column{Name: "yammer_last_activity", Type: date, Nullable: true},
		table.Column{Name: "teams_last_activity", Type: date, Nullable: true},
		table.Column{Name: "assigned_products", Type: strs, Nullable: true, Doc: "Assigned Products, split on +"},
	)

	ReportSettings = table.New("graph_report_settings", table.Snapshot, "",
		"Whether Microsoft 365 usage reports conceal user names (GET /admin/reportSettings).",
		table.Column{Name: "display_concealed_names", Type: b, Nullable: true},
	)
)

// Tables lists the Graph tables in the order a run extracts them.
func Tables() []*table.Table {
	return []*table.Table{Users, UserLicenses, Groups, SubscribedSkus, SignIns, ReportSettings, UsageReport}
}
