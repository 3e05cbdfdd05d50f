package tenantsim

import (
	"github.com/seatlake/seatlake/internal/tenantsim/graphsim"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// AllGraphPermissions are the Microsoft Graph application permissions a fully consented seatlake app holds.
var AllGraphPermissions = graphsim.AllPermissions

// ParsePermissions reads a comma-separated permission list (--graph-permissions).
func ParsePermissions(v string) []string { return graphsim.ParsePermissions(v) }

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

// graphRoles are the roles claim of Graph tokens.
func (s *Sim) graphRoles() []string {
	if s.cfg.GraphPermissions != nil {
		return s.cfg.GraphPermissions
	}
	return graphsim.AllPermissions
}
