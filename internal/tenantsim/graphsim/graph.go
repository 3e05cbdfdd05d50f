package graphsim

import (
	"cmp"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/identity"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// serve wraps an endpoint with what every request goes through, in the services' order: injected faults, the
// bearer token (when aud is set), service limits, then the endpoint.
func (g *Service) serve(family, aud string, h simkit.Endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := g.kit.RequestID()
		w.Header().Set("request-id", reqID)
		if aud == identity.AudGraph {
			w.Header().Set("OData-Version", "4.0")
		}
		if c := r.Header.Get("client-request-id"); c != "" {
			w.Header().Set("client-request-id", c)
		} else {
			w.Header().Set("client-request-id", reqID)
		}
		f, faulty := g.kit.TakeFault(r.URL.Path)
		if faulty && !g.kit.ConnectionFault(w, r, f, family, g.tokens.ExpireAll) {
			return
		}
		rep := g.kit.GetReply()
		defer g.kit.PutReply(rep)
		rep.ClientReqID = w.Header().Get("client-request-id")
		status := simkit.FaultStatus(f, faulty)
		switch {
		case status == http.StatusTooManyRequests:
			// An injected 429 sends its Delay as given, a fraction of a second too (the form of Microsoft's own
			// sample): the test that injects it chose it.
			d := f.Delay
			if d <= 0 {
				d = time.Second
			}
			w.Header().Set("Retry-After", strconv.FormatFloat(math.Ceil(d.Seconds()*1000)/1000, 'f', -1, 64))
			g.tooMany(rep, reqID)
		case status != 0:
			gf := graphFaults[status]
			g.graphError(rep, status, gf.code, gf.message, reqID)
		case aud != "" && !g.authorize(w, r, aud, rep, reqID):
		case aud == identity.AudGraph && g.permission(family, r) != "":
			g.graphError(rep, http.StatusForbidden, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.", reqID)
		case !g.admit(w, r, family, rep, reqID):
		default:
			h(w, r, rep)
		}
		g.kit.Count(family, rep.Status)
		g.kit.Log().Debug("request", "method", r.Method, "path", r.URL.Path, "status", rep.Status, "bytes", len(rep.B))
		simkit.WriteReply(w, rep, faulty && f.Kind == simkit.TruncatedBody)
	}
}

// graphFaults are Graph's answers to the injected 5xx faults.
var graphFaults = map[int]struct{ code, message string }{
	http.StatusInternalServerError: {"InternalServerError", "An internal server error occurred. Please retry."},
	http.StatusServiceUnavailable:  {"ServiceUnavailable", "The service is temporarily unavailable. Please retry."},
	http.StatusGatewayTimeout:      {"GatewayTimeout", "The operation timed out."},
}

// graphError renders Graph's error body ("Microsoft Graph error responses and resource types", and the examples of
// "Advanced query capabilities on directory objects"): code, message, and innerError with the date, the request-id
// and the client-request-id the client sent (the request id when it sent none).
func (g *Service) graphError(rep *simkit.Reply, status int, code, message, reqID string) {
	rep.Status, rep.ContentType = status, simkit.PlainJSON
	b := append(rep.B[:0], `{"error":{"code":`...)
	b = simkit.AppendJSONString(b, code)
	b = append(b, `,"message":`...)
	b = simkit.AppendJSONString(b, message)
	b = append(b, `,"innerError":{"date":"`...)
	b = g.kit.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","request-id":"`...)
	b = append(b, reqID...)
	b = append(b, `","client-request-id":`...)
	b = simkit.AppendJSONString(b, cmp.Or(rep.ClientReqID, reqID))
	rep.B = append(b, `}}}`...)
}

// tooMany renders the body of Graph's 429 ("Microsoft Graph throttling guidance", sample response); the caller has
// set Retry-After.
func (g *Service) tooMany(rep *simkit.Reply, reqID string) {
	rep.Status, rep.ContentType = http.StatusTooManyRequests, simkit.PlainJSON
	b := append(rep.B[:0], `{"error":{"code":"TooManyRequests","innerError":{"code":"429","date":"`...)
	b = g.kit.Now().UTC().AppendFormat(b, "2006-01-02T15:04:05")
	b = append(b, `","message":"Please retry after","request-id":"`...)
	b = append(b, reqID...)
	rep.B = append(b, `","status":"429"},"message":"Please retry again later."}}`...)
}

func (g *Service) graphNotFound(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	seg := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	g.graphError(rep, http.StatusNotFound, "Request_ResourceNotFound", "Resource not found for the segment '"+seg+"'.", w.Header().Get("request-id"))
}

// notPremium is the 403 of signInActivity and sign-in logs on a tenant without Entra ID P1/P2 (reference §2a).
func (g *Service) notPremium(w http.ResponseWriter, rep *simkit.Reply) {
	g.graphError(rep, http.StatusForbidden, "Authentication_RequestFromNonPremiumTenantOrB2CTenant",
		"Neither tenant is B2C or tenant doesn't have premium license", w.Header().Get("request-id"))
}

// badRequest is a 400 with Graph's body.
func (g *Service) badRequest(w http.ResponseWriter, rep *simkit.Reply, code, message string) {
	g.graphError(rep, http.StatusBadRequest, code, message, w.Header().Get("request-id"))
}

// queryOptions checks a request's OData system query options ($-prefixed) against those an endpoint supports,
// with Graph's answer for the rest. Other parameters are ignored, as by Graph.
func (g *Service) queryOptions(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, allowed ...string) bool {
	for k := range r.URL.Query() {
		if !strings.HasPrefix(k, "$") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || strings.EqualFold(k, a)
		}
		if !ok {
			if strings.EqualFold(k, "$skip") {
				g.badRequest(w, rep, "Request_BadRequest", "'$skip' is not supported by the service.")
			} else {
				g.badRequest(w, rep, "Request_UnsupportedQuery", "Query option '"+k+"' is not supported by this simulated endpoint.")
			}
			return false
		}
	}
	return true
}

// authorize checks the request's bearer token for aud and renders Graph's 401 when it is missing, unknown,
// expired or for another resource.
func (g *Service) authorize(w http.ResponseWriter, r *http.Request, aud string, rep *simkit.Reply, reqID string) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		tok, ok = strings.CutPrefix(h, "bearer ")
	}
	why := "Access token is empty."
	if ok && tok != "" {
		why = g.tokens.Check(tok, aud)
	}
	if why == "" {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="`+identity.GraphAppID+`"`)
	g.graphError(rep, http.StatusUnauthorized, "InvalidAuthenticationToken", why, reqID)
	return false
}
