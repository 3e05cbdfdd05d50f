package graphsim

import (
	"net/http"
	"strings"
	"sync"

	"github.com/seatlake/seatlake/internal/tenantsim/graphsim/signins"
	"github.com/seatlake/seatlake/internal/tenantsim/identity"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Options are how Graph treats the app.
type Options struct {
	Throttle    string   // service limits: "realistic", "scaled" (10x faster windows) or "off"
	ClientID    string   // the app the limits count for (x-ms-throttle-scope)
	Permissions []string // the application permissions the app holds (the roles claim of its tokens)
}

// Service is Microsoft Graph v1.0 for one tenant and one app.
type Service struct {
	m       *model.Tenant
	kit     *simkit.Kit
	tokens  simkit.Tokens
	held    map[string]bool // the permissions the app holds (heldPermissions)
	limits  *limits         // nil: no service limits
	signIns *signins.Log
	mux     *http.ServeMux

	removed   int64        // licenses removed through assignLicense (m.DirectoryMu)
	orderOnce [3]sync.Once // users sorted for $orderby, by orderUPN and orderName
	order     [3][]int32
}

// New is Graph over tenant m; tokens says which bearer tokens are valid for Graph (identity.AudGraph).
func New(m *model.Tenant, kit *simkit.Kit, tokens simkit.Tokens, o Options) *Service {
	g := &Service{m: m, kit: kit, tokens: tokens, held: heldPermissions(o.Permissions),
		limits: newLimits(o.Throttle, len(m.Users), o.ClientID, m.TenantID)}
	g.signIns = signins.New(m, kit, errorsOf{g})
	g.routes()
	return g
}

func (g *Service) routes() {
	mux := http.NewServeMux()
	aud := identity.AudGraph
	mux.HandleFunc("GET /v1.0/users", g.serve("users", aud, g.reading(g.users)))
	mux.HandleFunc("GET /v1.0/users/{id}", g.serve("users", aud, g.reading(g.user)))
	mux.HandleFunc("POST /v1.0/users/{id}/assignLicense", g.serve("assignLicense", aud, g.assignLicense))
	mux.HandleFunc("GET /v1.0/groups/{id}", g.serve("groups", aud, g.group))
	mux.HandleFunc("GET /v1.0/subscribedSkus", g.serve("subscribedSkus", aud, g.reading(g.subscribedSkus)))
	mux.HandleFunc("GET /v1.0/auditLogs/signIns", g.serve("signIns", aud, g.signIns.Page))
	mux.HandleFunc("GET /v1.0/admin/reportSettings", g.serve("reportSettings", aud, g.reportSettings))
	mux.HandleFunc("GET /v1.0/reports/{function}", g.serve("reports", aud, g.reading(g.usageReport)))
	mux.HandleFunc("GET /_sim/reports/{token}/Office365ActiveUserDetail.csv", g.reportDownload)
	// Anything else: Graph's 404, after Graph's authentication for paths under /v1.0/.
	graphOther, other := g.serve("other", aud, g.graphNotFound), g.serve("other", "", g.graphNotFound)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/v1.0/") {
			graphOther(w, r)
			return
		}
		other(w, r)
	})
	g.mux = mux
}

// Handler serves Graph under /v1.0/, the usage report's downloads, and Graph's 404 for any other path: mount it
// at "/" of the host, beside the identity platform's endpoints.
func (g *Service) Handler() http.Handler { return g.mux }

// Unauthenticated serves h through Graph's front door without asking for a token: injected faults, the counters
// and Graph's error bodies, as for the identity platform's token endpoint on the same host.
func (g *Service) Unauthenticated(family string, h simkit.Endpoint) http.HandlerFunc {
	return g.serve(family, "", h)
}

// Readable says whether the app holds the permission a path family needs (users, groups, signIns, …).
func (g *Service) Readable(family string) bool { return g.permission(family, nil) == "" }

// LicenseRemovals counts the licenses removed through assignLicense.
func (g *Service) LicenseRemovals() int64 {
	g.m.DirectoryMu.RLock()
	defer g.m.DirectoryMu.RUnlock()
	return g.removed
}

// errorsOf renders Graph's refusals for the sign-in log.
type errorsOf struct{ g *Service }

func (e errorsOf) QueryOptions(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, allowed ...string) bool {
	return e.g.queryOptions(w, r, rep, allowed...)
}

func (e errorsOf) BadRequest(w http.ResponseWriter, rep *simkit.Reply, code, message string) {
	e.g.badRequest(w, rep, code, message)
}

func (e errorsOf) NotPremium(w http.ResponseWriter, rep *simkit.Reply) { e.g.notPremium(w, rep) }
