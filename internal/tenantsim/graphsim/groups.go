package graphsim

import (
	"net/http"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// GET /v1.0/groups/{id}: the groups of group-based licensing, read by id as Learn's "Get group" page describes
// (extract/graph/testdata/README.md): $select picks among the properties served, a group the tenant does not have
// is 404 Request_ResourceNotFound, and reading any group needs GroupMember.Read.All or a higher permission.

// groupProps are the group properties served, in the order Graph writes them; all of them without $select.
var groupProps = []string{"id", "description", "displayName", "groupTypes", "mailEnabled", "mailNickname", "securityEnabled"}

func (g *Service) group(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if !g.queryOptions(w, r, rep, "$select") {
		return
	}
	id := r.PathValue("id")
	gi, ok := g.m.GroupIndex(id)
	if !ok {
		g.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+id+"' does not exist or one of its queried reference-property objects are not present.", w.Header().Get("request-id"))
		return
	}
	props := groupProps
	if sel, has := simkit.Query(r, "$select"); has {
		props = nil
		for _, p := range strings.Split(sel, ",") {
			p = strings.TrimSpace(p)
			found := ""
			for _, known := range groupProps {
				if strings.EqualFold(p, known) {
					found = known
				}
			}
			if found == "" {
				g.badRequest(w, rep, "Request_BadRequest", "Could not find a property named '"+p+"' on type 'microsoft.graph.group'.")
				return
			}
			props = append(props, found)
		}
	}
	lg := model.LicenseGroups[gi]
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#groups`...)
	if _, has := simkit.Query(r, "$select"); has {
		b = append(b, '(')
		b = append(b, strings.Join(props, ",")...)
		b = append(b, ')')
	}
	b = append(b, `/$entity"`...)
	for _, p := range props {
		b = append(b, `,"`...)
		b = append(b, p...)
		b = append(b, `":`...)
		switch p {
		case "id":
			b = simkit.AppendJSONString(b, g.m.GroupID(gi))
		case "displayName":
			b = simkit.AppendJSONString(b, lg.Name)
		case "description":
			b = simkit.AppendJSONString(b, "Assigns "+model.SKUCatalog[lg.SKU].Part+" to its members (group-based licensing)")
		case "groupTypes":
			b = append(b, "[]"...)
		case "mailEnabled":
			b = append(b, "false"...)
		case "mailNickname":
			b = simkit.AppendJSONString(b, strings.ToLower(strings.NewReplacer(" ", "", "-", "").Replace(lg.Name)))
		case "securityEnabled":
			b = append(b, "true"...)
		}
	}
	rep.B = append(b, '}')
}
