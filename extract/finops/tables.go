package finops

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/internal/table"
)

var (
	str = arrow.BinaryTypes.String
	bl  = arrow.FixedWidthTypes.Boolean
)

var envColumn = table.Column{Name: "environment_url", Type: str, Key: true, Doc: "the F&O environment, e.g. https://contoso.operations.dynamics.com"}

// The F&O tables. UserLicenseType arrives as the enum member's name; license_tier is the license it implies.
var (
	Users = table.New("finops_users", table.Snapshot, "",
		"F&O users of each environment (SystemUsers, cross-company).",
		envColumn,
		table.Column{Name: "user_id", Type: str, Key: true, Doc: "UserID"},
		table.Column{Name: "user_name", Type: str, Nullable: true},
		table.Column{Name: "alias", Type: str, Nullable: true, Doc: "Alias: usually the UPN the user signs in with"},
		table.Column{Name: "email", Type: str, Nullable: true},
		table.Column{Name: "enabled", Type: bl, Nullable: true},
		table.Column{Name: "network_domain", Type: str, Nullable: true},
		table.Column{Name: "company", Type: str, Nullable: true, Doc: "the user's default legal entity"},
		table.Column{Name: "person_name", Type: str, Nullable: true},
		table.Column{Name: "account_type", Type: str, Nullable: true},
		table.Column{Name: "external_user", Type: bl, Nullable: true},
	)

	SecurityRoles = table.New("finops_security_roles", table.Snapshot, "",
		"F&O security roles with the license each requires (SecurityRoles).",
		envColumn,
		table.Column{Name: "security_role_identifier", Type: str, Key: true, Doc: "the AOT name, e.g. -SYSADMIN-"},
		table.Column{Name: "security_role_name", Type: str, Nullable: true},
		table.Column{Name: "description", Type: str, Nullable: true},
		table.Column{Name: "user_license_type", Type: str, Nullable: true, Doc: "UserLicenseType enum member, e.g. Functional"},
		table.Column{Name: "license_tier", Type: str, Nullable: true, Doc: "the license it implies: None, Team Members, Activity, Operations, or a product (Finance, SCM, Commerce, Project, HR)"},
		table.Column{Name: "license_rank", Type: arrow.PrimitiveTypes.Int32, Nullable: true, Doc: "orders tiers: a user needs the highest rank of their roles"},
	)

	UserRoles = table.New("finops_user_roles", table.Snapshot, "",
		"Role assignments of F&O users (SecurityUserRoles, cross-company).",
		envColumn,
		table.Column{Name: "user_id", Type: str, Key: true, Doc: "UserId (note: UserID in SystemUsers)"},
		table.Column{Name: "security_role_identifier", Type: str, Key: true},
		table.Column{Name: "security_role_name", Type: str, Nullable: true},
		table.Column{Name: "assignment_status", Type: str, Nullable: true},
		table.Column{Name: "assignment_mode", Type: str, Nullable: true},
		table.Column{Name: "user_license_type", Type: str, Nullable: true},
		table.Column{Name: "license_tier", Type: str, Nullable: true},
		table.Column{Name: "license_rank", Type: arrow.PrimitiveTypes.Int32, Nullable: true},
	)
)

// Tables lists the F&O tables.
func Tables() []*table.Table { return []*table.Table{Users, SecurityRoles, UserRoles} }

// Tier is the license a UserLicenseType member implies, after Microsoft's licensing guide: SelfServe is Team
// Members, Task and Activity are Activity, Functional and Enterprise need a full Operations license, and since
// 10.0.15 the product-specific members name their product. Rank orders them: a user needs the highest rank of
// their roles ("the maximum license requirement determines the actual licensing requirement for a user").
func Tier(licenseType string) (tier string, rank int32) {
	switch licenseType {
	case "None", "":
		return "None", 0
	case "SelfServe":
		return "Team Members", 1
	case "Task", "Activity":
		return "Activity", 2
	case "Functional", "Enterprise", "Universal", "Server":
		return "Operations", 3
	case "Finance", "SCM", "Commerce", "Project", "HR":
		return licenseType, 3
	}
	return "Unknown", -1
}
