package dataverse

import (
	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/internal/table"
)

var (
	str = arrow.BinaryTypes.String
	bl  = arrow.FixedWidthTypes.Boolean
	i32 = arrow.PrimitiveTypes.Int32
	ts  = table.Timestamp
)

// Every Dataverse row says where it came from.
var (
	envColumn = table.Column{Name: "environment_url", Type: str, Key: true, Doc: "the Dataverse environment, e.g. https://contoso.crm.dynamics.com"}
	orgColumn = table.Column{Name: "organization_id", Type: str, Nullable: true, Doc: "the environment's organizationid"}
)

// The Dataverse tables. Column names are the Web API's logical names, as Dataverse administrators know them.
var (
	Users = table.New("dataverse_users", table.Snapshot, "",
		"Dataverse users of each environment (GET systemusers).",
		envColumn, orgColumn,
		table.Column{Name: "systemuserid", Type: str, Key: true, HighCardinality: true},
		table.Column{Name: "domainname", Type: str, Nullable: true, Doc: "User Name: the UPN for online users"},
		table.Column{Name: "internalemailaddress", Type: str, Nullable: true},
		table.Column{Name: "fullname", Type: str, Nullable: true},
		table.Column{Name: "azureactivedirectoryobjectid", Type: str, Nullable: true, Doc: "the Entra object id: the join key to graph_users.id"},
		table.Column{Name: "isdisabled", Type: bl, Nullable: true},
		table.Column{Name: "accessmode", Type: i32, Nullable: true, Doc: "0 Read-Write, 1 Administrative, 2 Read, 3 Support User, 4 Non-interactive, 5 Delegated Admin"},
		table.Column{Name: "islicensed", Type: bl, Nullable: true},
		table.Column{Name: "applicationid", Type: str, Nullable: true, Doc: "set for application users"},
		table.Column{Name: "isintegrationuser", Type: bl, Nullable: true},
		table.Column{Name: "createdon", Type: ts, Nullable: true},
	)

	Audits = table.New("dataverse_audits", table.Event, "createdon",
		"User-driven audit records: user access (action 64 via a model-driven app, 65 via web services) and record changes (1 Create, 2 Update, 3 Delete).",
		envColumn, orgColumn,
		table.Column{Name: "auditid", Type: str, Key: true, HighCardinality: true},
		table.Column{Name: "createdon", Type: ts, Incremental: true, HighCardinality: true},
		table.Column{Name: "action", Type: i32, Nullable: true},
		table.Column{Name: "operation", Type: i32, Nullable: true, Doc: "1 Create, 2 Update, 3 Delete, 4 Access"},
		table.Column{Name: "user_id", Type: str, Nullable: true, Doc: "_userid_value: the systemuserid that acted"},
		table.Column{Name: "calling_user_id", Type: str, Nullable: true, Doc: "_callinguserid_value: the impersonating caller, if any"},
		table.Column{Name: "object_type", Type: str, Nullable: true, Doc: "objecttypecode: the table's logical name (systemuser for access)"},
		table.Column{Name: "object_id", Type: str, Nullable: true, HighCardinality: true, Doc: "_objectid_value"},
	)

	AuditSettings = table.New("dataverse_audit_settings", table.Snapshot, "",
		"Each environment's audit settings (GET organizations): without auditing, Dynamics activity evidence is missing.",
		envColumn, orgColumn,
		table.Column{Name: "isauditenabled", Type: bl, Nullable: true},
		table.Column{Name: "isuseraccessauditenabled", Type: bl, Nullable: true},
		table.Column{Name: "useraccessauditinginterval", Type: i32, Nullable: true, Doc: "hours: user access is logged at most once per user per interval"},
		table.Column{Name: "auditretentionperiodv2", Type: i32, Nullable: true, Doc: "days audit records are kept; -1 forever"},
	)
)

// Tables lists the Dataverse tables.
func Tables() []*table.Table { return []*table.Table{Users, Audits, AuditSettings} }
