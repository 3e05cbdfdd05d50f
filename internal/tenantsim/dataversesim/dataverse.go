package dataversesim

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// API is the Web API's path in an environment's URL.
const API = "/api/data/v9.2/"

// Error codes of the Web API's JSON error body ({"error":{"code","message"}}, "Compose HTTP requests and handle
// errors"): "Troubleshoot Dataverse Web API client errors" shows 0x8006088a for a resource not found for a segment
// (404) and 0x0 for a property that does not exist (400). Other query-option errors are given 0x0 too (assumed, see
// extract/dataverse/testdata/README.md).
const (
	dvNotFound   = "0x8006088a"
	dvQueryError = "0x0"
)

// dvError renders the Dataverse Web API error body.
func dvError(rep *simkit.Reply, status int, code, message string) {
	rep.Status, rep.ContentType = status, simkit.PlainJSON
	b := append(rep.B[:0], `{"error":{"code":`...)
	b = simkit.AppendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = simkit.AppendJSONString(b, message)
	rep.B = append(b, `}}`...)
}

// organizations is GET organizations: the one row, with its audit settings.
func (d *environment) organizations(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	env := d.env
	all := []string{"organizationid", "name", "isauditenabled", "isuseraccessauditenabled", "useraccessauditinginterval", "auditretentionperiodv2"}
	props, ok := selectProps(r, rep, "organization", all)
	if !ok {
		return
	}
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#organizations`...)
	if _, selected := simkit.Query(r, "$select"); selected {
		b = append(b, '(')
		b = append(b, strings.Join(props, ",")...)
		b = append(b, ')')
	}
	b = append(b, `","value":[{"@odata.etag":"W/\"`...)
	b = strconv.AppendUint(b, ids.Hash(d.seed, 0x0e, uint64(env.Index))%100000000, 10)
	b = append(b, `\""`...)
	hasID := false
	for _, prop := range props {
		b = append(b, `,"`...)
		b = append(b, prop...)
		b = append(b, `":`...)
		switch prop {
		case "organizationid":
			hasID = true
			b = simkit.AppendJSONString(b, env.OrgID)
		case "name":
			b = simkit.AppendJSONString(b, env.OrgName)
		case "isauditenabled":
			b = strconv.AppendBool(b, env.AuditOn)
		case "isuseraccessauditenabled":
			b = strconv.AppendBool(b, env.AccessOn)
		case "useraccessauditinginterval":
			b = strconv.AppendInt(b, int64(env.Interval), 10)
		case "auditretentionperiodv2":
			b = strconv.AppendInt(b, int64(env.Retention), 10)
		}
	}
	if !hasID { // the key always comes back, as from Dataverse
		b = append(b, `,"organizationid":`...)
		b = simkit.AppendJSONString(b, env.OrgID)
	}
	rep.B = append(b, `}]}`...)
}

// whoAmI is GET WhoAmI: the caller's application user, business unit and organization.
func (d *environment) whoAmI(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	env := d.env
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#Microsoft.Dynamics.CRM.WhoAmIResponse","BusinessUnitId":"`...)
	b = ids.AppendGUID(b, ids.Hash(d.seed, 0xb0, uint64(env.Index)), ids.Hash(d.seed, 0xb1, uint64(env.Index)))
	b = append(b, `","UserId":"`...)
	b = append(b, env.Users[2].ID...) // the "# seatlake" application user
	b = append(b, `","OrganizationId":"`...)
	b = append(b, env.OrgID...)
	rep.B = append(b, `"}`...)
}
