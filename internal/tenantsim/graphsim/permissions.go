package graphsim

import (
	"net/http"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// AllPermissions are the Microsoft Graph application permissions a fully consented seatlake app holds.
var AllPermissions = []string{"User.Read.All", "AuditLog.Read.All", "Organization.Read.All", "ReportSettings.Read.All", "Reports.Read.All",
	"LicenseAssignment.ReadWrite.All", "GroupMember.Read.All"}

// heldPermissions is the set of Graph permissions the app holds (Directory.Read.All implies the two reads it
// covers), made once in New.
func heldPermissions(roles []string) map[string]bool {
	held := map[string]bool{}
	for _, p := range roles {
		held[p] = true
	}
	if held["Directory.Read.All"] {
		held["User.Read.All"], held["Organization.Read.All"] = true, true
	}
	return held
}

// permission names the permission a Graph request needs that the token lacks ("" when it has what it needs).
func (g *Service) permission(family string, r *http.Request) string {
	held := g.held
	switch family {
	case "users":
		if !held["User.Read.All"] {
			return "User.Read.All"
		}
		if sel, _ := simkit.Query(r, "$select"); strings.Contains(strings.ToLower(sel), "signinactivity") && !held["AuditLog.Read.All"] {
			return "AuditLog.Read.All"
		}
	case "subscribedSkus":
		if !held["Organization.Read.All"] && !held["LicenseAssignment.Read.All"] {
			return "Organization.Read.All"
		}
	case "signIns":
		if !held["AuditLog.Read.All"] {
			return "AuditLog.Read.All"
		}
	case "assignLicense":
		if !held["LicenseAssignment.ReadWrite.All"] && !held["User.ReadWrite.All"] && !held["Directory.ReadWrite.All"] {
			return "LicenseAssignment.ReadWrite.All"
		}
	case "groups": // Get group: GroupMember.Read.All, or a higher permission
		if !held["GroupMember.Read.All"] && !held["Group.Read.All"] && !held["Directory.Read.All"] && !held["Group.ReadWrite.All"] && !held["Directory.ReadWrite.All"] {
			return "GroupMember.Read.All"
		}
	case "reportSettings":
		if !held["ReportSettings.Read.All"] {
			return "ReportSettings.Read.All"
		}
	case "reports":
		if !held["Reports.Read.All"] {
			return "Reports.Read.All"
		}
	}
	return ""
}

// ParsePermissions reads a comma-separated permission list (--graph-permissions).
func ParsePermissions(v string) []string {
	out := []string{}
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
