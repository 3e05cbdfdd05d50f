package graphsim

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// reading wraps a handler that reads licenses.
func (g *Service) reading(h simkit.Endpoint) simkit.Endpoint {
	return func(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
		g.m.DirectoryMu.RLock()
		defer g.m.DirectoryMu.RUnlock()
		h(w, r, rep)
	}
}

// user is GET /v1.0/users/{id}: one user by object id, with $select as on the collection; and GET /users/$count.
func (g *Service) user(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if r.PathValue("id") == "$count" {
		g.usersCount(w, r, rep)
		return
	}
	if !g.queryOptions(w, r, rep, "$select") {
		return
	}
	i, ok := g.m.UserIndex(r.PathValue("id"))
	if !ok {
		g.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+r.PathValue("id")+"' does not exist or one of its queried reference-property objects are not present.", w.Header().Get("request-id"))
		return
	}
	sel, hasSel := simkit.Query(r, "$select")
	props, ok := g.selectUserProps(w, rep, sel, hasSel, false)
	if !ok {
		return
	}
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#users/$entity",`...)
	u := g.appendUser(nil, &g.m.Users[i], props)
	rep.B = append(b, u[1:]...)
}

// assignLicense is POST /v1.0/users/{id}/assignLicense: addLicenses and removeLicenses (both required), as Graph
// does. A license the user inherits from a group cannot be removed directly: 400, as Microsoft answers.
func (g *Service) assignLicense(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	reqID := w.Header().Get("request-id")
	var body struct {
		AddLicenses *[]struct {
			SkuID string `json:"skuId"`
		} `json:"addLicenses"`
		RemoveLicenses *[]string `json:"removeLicenses"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil || body.AddLicenses == nil || body.RemoveLicenses == nil {
		g.graphError(rep, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'addLicenses' or 'removeLicenses': both are required.", reqID)
		return
	}
	g.m.DirectoryMu.Lock()
	defer g.m.DirectoryMu.Unlock()
	i, ok := g.m.UserIndex(r.PathValue("id"))
	if !ok {
		g.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+r.PathValue("id")+"' does not exist or one of its queried reference-property objects are not present.", reqID)
		return
	}
	u := &g.m.Users[i]
	// Check every removal before changing anything: the call is all or nothing.
	idx := make([]int, 0, len(*body.RemoveLicenses))
	for _, sku := range *body.RemoveLicenses {
		at := -1
		for li, l := range u.Licenses {
			if strings.EqualFold(model.SKUCatalog[l.SKU].ID, sku) {
				at = li
			}
		}
		switch {
		case at < 0:
			g.graphError(rep, http.StatusBadRequest, "Request_BadRequest", "User does not have a corresponding license for skuId '"+sku+"'.", reqID)
			return
		case u.Licenses[at].Group >= 0:
			g.graphError(rep, http.StatusBadRequest, "Request_BadRequest",
				"User license is inherited from a group membership and it cannot be removed directly from the user.", reqID)
			return
		}
		idx = append(idx, at)
	}
	if len(*body.AddLicenses) > 0 {
		g.graphError(rep, http.StatusBadRequest, "Request_BadRequest", "The simulator does not add licenses.", reqID)
		return
	}
	keep := u.Licenses[:0:0]
	for li, l := range u.Licenses {
		removed := false
		for _, at := range idx {
			removed = removed || at == li
		}
		if removed {
			g.m.SKUs[g.m.SKUIndex[l.SKU]].Consumed--
			g.removed++
			continue
		}
		keep = append(keep, l)
	}
	u.Licenses = keep
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#users/$entity",`...)
	one := g.appendUser(nil, u, []string{"id", "displayName", "userPrincipalName", "assignedLicenses"})
	rep.B = append(b, one[1:]...)
}
