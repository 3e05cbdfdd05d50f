package finopssim

import (
	"net/http"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/identity"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// environment is one F&O environment being served.
type environment struct {
	m        *model.Tenant // its FinOpsMu guards the roles served
	env      *model.FinOpsEnv
	kit      *simkit.Kit
	pageSize int
}

// New serves F&O environment e of tenant m through srv, which checks tokens for the environment's audience
// (identity.FinOpsAudience), with server-driven pages of pageSize rows and the service protection of a throttle
// mode ("realistic", "scaled" or "off").
func New(m *model.Tenant, e int, srv *simkit.EnvServer, pageSize int, throttle string) http.Handler {
	fo := &environment{m: m, env: &m.FinOps[e], kit: srv.Kit, pageSize: pageSize}
	svc := simkit.Env{Aud: identity.FinOpsAudience(e), ErrorBody: foError,
		Headers: func(h http.Header, reqID string) { h.Set("request-id", reqID) }}
	if g := guardOf(throttle); g != nil {
		svc.Guard = g
	}
	data := map[string]http.HandlerFunc{}
	for _, name := range []string{"$metadata", "SystemUsers", "SecurityRoles", "SecurityUserRoles"} {
		data[name] = srv.Serve(svc, "finops."+name, func(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) { fo.serve(r, rep, name) })
	}
	other := srv.Serve(svc, "finops.other", func(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) { fo.serve(r, rep, "") })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if name, ok := strings.CutPrefix(r.URL.Path, "/data/"); ok && data[name] != nil {
			data[name](w, r)
			return
		}
		other(w, r)
	})
}
