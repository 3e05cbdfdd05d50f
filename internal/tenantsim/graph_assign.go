package tenantsim

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// licenseWrites guards what assignLicense changes (users' licenses, SKUs' consumed units) against the handlers
// and truth that read them.
type licenseWrites struct {
	removed int64 // licenses removed through assignLicense (m.DirectoryMu)

	orderOnce [3]sync.Once // users sorted for $orderby, by orderUPN and orderName
	order     [3][]int32
}

// reading wraps a handler that reads licenses.
func (s *Sim) reading(h simkit.Endpoint) simkit.Endpoint {
	return func(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
		s.m.DirectoryMu.RLock()
		defer s.m.DirectoryMu.RUnlock()
		h(w, r, rep)
	}
}

// user is GET /v1.0/users/{id}: one user by object id, with $select as on the collection; and GET /users/$count.
func (s *Sim) user(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if r.PathValue("id") == "$count" {
		s.usersCount(w, r, rep)
		return
	}
	if !s.queryOptions(w, r, rep, "$select") {
		return
	}
	i, ok := s.m.UserIndex(r.PathValue("id"))
	if !ok {
		s.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+r.PathValue("id")+"' does not exist or one of its queried reference-property objects are not present.", w.Header().Get("request-id"))
		return
	}
	sel, hasSel := simkit.Query(r, "$select")
	props, ok := s.selectUserProps(w, rep, sel, hasSel, false)
	if !ok {
		return
	}
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#users/$entity",`...)
	u := s.appendUser(nil, &s.m.Users[i], props)
	rep.B = append(b, u[1:]...)
}

// assignLicense is POST /v1.0/users/{id}/assignLicense: addLicenses and removeLicenses (both required), as Graph
// does. A license the user inherits from a group cannot be removed directly: 400, as Microsoft answers.
func (s *Sim) assignLicense(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	reqID := w.Header().Get("request-id")
	var body struct {
		AddLicenses *[]struct {
			SkuID string `json:"skuId"`
		} `json:"addLicenses"`
		RemoveLicenses *[]string `json:"removeLicenses"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&body); err != nil || body.AddLicenses == nil || body.RemoveLicenses == nil {
		s.graphError(rep, http.StatusBadRequest, "Request_BadRequest", "Invalid value specified for property 'addLicenses' or 'removeLicenses': both are required.", reqID)
		return
	}
	s.m.DirectoryMu.Lock()
	defer s.m.DirectoryMu.Unlock()
	i, ok := s.m.UserIndex(r.PathValue("id"))
	if !ok {
		s.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound",
			"Resource '"+r.PathValue("id")+"' does not exist or one of its queried reference-property objects are not present.", reqID)
		return
	}
	u := &s.m.Users[i]
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
			s.graphError(rep, http.StatusBadRequest, "Request_BadRequest", "User does not have a corresponding license for skuId '"+sku+"'.", reqID)
			return
		case u.Licenses[at].Group >= 0:
			s.graphError(rep, http.StatusBadRequest, "Request_BadRequest",
				"User license is inherited from a group membership and it cannot be removed directly from the user.", reqID)
			return
		}
		idx = append(idx, at)
	}
	if len(*body.AddLicenses) > 0 {
		s.graphError(rep, http.StatusBadRequest, "Request_BadRequest", "The simulator does not add licenses.", reqID)
		return
	}
	keep := u.Licenses[:0:0]
	for li, l := range u.Licenses {
		removed := false
		for _, at := range idx {
			removed = removed || at == li
		}
		if removed {
			s.m.SKUs[s.m.SKUIndex[l.SKU]].Consumed--
			s.lw.removed++
			continue
		}
		keep = append(keep, l)
	}
	u.Licenses = keep
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#users/$entity",`...)
	one := s.appendUser(nil, u, []string{"id", "displayName", "userPrincipalName", "assignedLicenses"})
	rep.B = append(b, one[1:]...)
}

// SignInNow records a sign-in of the user at the simulator's clock in signInActivity (a user who became active
// since a reclaim plan was made); it reports whether the user exists.
func (s *Sim) SignInNow(userID string) bool {
	s.m.DirectoryMu.Lock()
	defer s.m.DirectoryMu.Unlock()
	i, ok := s.m.UserIndex(userID)
	if !ok {
		return false
	}
	now := s.clock().UnixMicro()
	u := &s.m.Users[i]
	u.LastSignIn, u.LastSuccess = now, now
	return true
}

// Licenses returns the SKU ids a user holds now (as GET /users/{id} would show them), for tests.
func (s *Sim) Licenses(userID string) []string {
	s.m.DirectoryMu.RLock()
	defer s.m.DirectoryMu.RUnlock()
	i, ok := s.m.UserIndex(userID)
	if !ok {
		return nil
	}
	var out []string
	for _, l := range s.m.Users[i].Licenses {
		out = append(out, model.SKUCatalog[l.SKU].ID)
	}
	return out
}
