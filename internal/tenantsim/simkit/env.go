package simkit

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Tokens is the identity platform as the services check it: why a bearer token is refused for an audience ("" when
// it is valid), and the revocation of every token issued so far (the ExpireTokens fault).
type Tokens interface {
	Check(tok, aud string) string
	ExpireAll()
}

// EnvServer serves the endpoints of the Dynamics 365 environments (Dataverse and F&O), which answer alike apart
// from their headers, error bodies and limits (Env).
type EnvServer struct {
	Kit         *Kit
	Tokens      Tokens
	TenantID    string        // the authority the 401 challenge names
	PageLatency time.Duration // each page takes at least this long, as at Microsoft
}

// Env is how one Dynamics environment answers, for EnvServer.Serve.
type Env struct {
	Aud       string                                             // the token audience
	Headers   func(h http.Header, reqID string)                  // the service's own response headers
	ErrorBody func(rep *Reply, status int, code, message string) // the service's error body
	Guard     Guard                                              // nil: no limits
	Refuse    func(rep *Reply) bool                              // a refusal after the token (Dataverse: no application user)
}

// Serve wraps a Dataverse or F&O endpoint with what every request goes through: injected faults, the bearer
// token for the environment, the service's own refusals, its service protection, the simulated page latency, then
// the endpoint. Faults come first, as in Graph, and share its connection-level handling (Kit.ConnectionFault).
func (d *EnvServer) Serve(svc Env, family string, h Endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		reqID := d.Kit.RequestID()
		svc.Headers(w.Header(), reqID)
		if c := r.Header.Get("client-request-id"); c != "" {
			w.Header().Set("client-request-id", c)
		}
		w.Header().Set("OData-Version", "4.0")
		f, faulty := d.Kit.TakeFault(r.URL.Path)
		if faulty && !d.Kit.ConnectionFault(w, r, f, family, d.Tokens.ExpireAll) {
			return
		}
		rep := d.Kit.GetReply()
		defer d.Kit.PutReply(rep)
		started := d.Kit.Now()
		switch status := FaultStatus(f, faulty); {
		case status != 0:
			if status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", strconv.Itoa(max(1, int(f.Delay.Seconds()+0.999))))
			}
			svc.ErrorBody(rep, status, "0x80040216", "An unexpected error occurred.")
		case r.Method != http.MethodGet:
			// A function called with the wrong method: "Troubleshoot Dataverse Web API client errors".
			svc.ErrorBody(rep, http.StatusNotFound, "", "No HTTP resource was found that matches the request URI '"+BaseURL(r)+r.URL.Path+"'.")
		case !d.authorize(w, r, svc.Aud, rep):
		case svc.Refuse != nil && svc.Refuse(rep):
		default:
			if svc.Guard != nil {
				if code, msg, wait := svc.Guard.Admit(started); code != "" {
					w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
					svc.ErrorBody(rep, http.StatusTooManyRequests, code, msg)
					d.Kit.CountLimit(code)
					break
				}
			}
			if d.PageLatency > 0 {
				time.Sleep(d.PageLatency)
			}
			h(w, r, rep)
			if svc.Guard != nil {
				now := d.Kit.Now()
				svc.Guard.Done(now, now.Sub(started))
			}
		}
		d.Kit.Count(family, rep.Status)
		WriteReply(w, rep, faulty && f.Kind == TruncatedBody)
	}
}

// authorize checks a Dataverse or F&O request's bearer token; those services answer 401 with an empty
// body and a WWW-Authenticate challenge naming the authority.
func (d *EnvServer) authorize(w http.ResponseWriter, r *http.Request, aud string, rep *Reply) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok && tok != "" && d.Tokens.Check(tok, aud) == "" {
		return true
	}
	w.Header().Set("WWW-Authenticate", `Bearer authorization_uri=https://login.microsoftonline.com/`+d.TenantID+`/oauth2/authorize, resource_id=`+BaseURL(r))
	rep.Status, rep.ContentType, rep.B = http.StatusUnauthorized, PlainJSON, rep.B[:0]
	return false
}
