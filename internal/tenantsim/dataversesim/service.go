package dataversesim

import (
	"net/http"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/identity"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// environment is one Dataverse environment being served.
type environment struct {
	env  *model.DataverseEnv
	seed int64
}

// New serves Dataverse environment e of tenant m through srv, which checks tokens for the environment's audience
// (identity.DataverseAudience); lim nil sets no service protection limits.
func New(m *model.Tenant, e int, srv *simkit.EnvServer, lim *Limits) http.Handler {
	d := &environment{env: &m.Dataverse[e], seed: m.Seed}
	svc := simkit.Env{
		Aud: identity.DataverseAudience(e), ErrorBody: dvError,
		Headers: func(h http.Header, reqID string) {
			h.Set("x-ms-service-request-id", reqID)
			h.Set("REQ_ID", reqID)
		},
		Refuse: func(rep *simkit.Reply) bool {
			if d.env.NoAppUser.Load() {
				dvError(rep, http.StatusForbidden, "0x80072560", "The user is not a member of the organization.")
				return true
			}
			return false
		},
	}
	if lim != nil {
		svc.Guard = newGuard(*lim)
	}
	on := func(name string, h simkit.Endpoint) http.HandlerFunc { return srv.Serve(svc, "dataverse."+name, h) }
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+API+"systemusers", on("systemusers", d.systemUsers))
	mux.HandleFunc("GET "+API+"audits", on("audits", d.audits))
	mux.HandleFunc("GET "+API+"organizations", on("organizations", d.organizations))
	mux.HandleFunc("GET "+API+"WhoAmI", on("WhoAmI", d.whoAmI))
	mux.HandleFunc("GET "+API+"WhoAmI()", on("WhoAmI", d.whoAmI))
	mux.HandleFunc("/", on("other", func(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
		seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
		dvError(rep, http.StatusNotFound, dvNotFound, "Resource not found for the segment '"+seg+"'.")
	}))
	return mux
}
