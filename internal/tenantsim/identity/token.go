package identity

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// AudGraph is the audience of Graph's tokens; each Dynamics environment has its own (DataverseAudience,
// FinOpsAudience), and a token is valid for its audience only.
const AudGraph = "graph"

// GraphAppID is Microsoft Graph's application id, also accepted as a scope resource.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// tokenStore remembers issued access tokens: the audience each is for and when it expires.
type tokenStore struct {
	now    func() time.Time
	mu     sync.Mutex
	tokens map[string]issued
	epoch  int64 // tokens issued before this epoch are expired (ExpireTokens fault)
	issued int64
}

type issued struct {
	aud     string
	expires time.Time
	epoch   int64
}

func (t *tokenStore) init() { t.tokens = map[string]issued{} }

func (t *tokenStore) add(tok string, it issued, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.tokens) >= 1024 { // forget expired tokens now and then: a long-running sim serves many clients
		for k, v := range t.tokens {
			if !now.Before(v.expires) || v.epoch < t.epoch {
				delete(t.tokens, k)
			}
		}
	}
	it.epoch = t.epoch
	t.tokens[tok] = it
	t.issued++
}

// Check says why tok is not valid for aud now ("" when it is).
func (t *tokenStore) Check(tok, aud string) string { return t.check(tok, aud, t.now()) }

// check says why tok is not valid for aud at now ("" when it is).
func (t *tokenStore) check(tok, aud string, now time.Time) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	it, ok := t.tokens[tok]
	switch {
	case !ok:
		return "CompactToken parsing failed with error code: 80049217"
	case it.epoch < t.epoch || !now.Before(it.expires):
		return "Access token has expired or is not yet valid."
	case it.aud != aud:
		return "Access token validation failure. Invalid audience."
	}
	return ""
}

// ExpireAll makes every token issued so far expired, as an early expiry or a revocation would.
func (t *tokenStore) ExpireAll() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.epoch++
}

func (t *tokenStore) count() int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.issued
}

// Token is POST /{tenant}/oauth2/v2.0/token, the client-credentials grant of "OAuth 2.0 client credentials flow on
// the Microsoft identity platform"; every fact it relies on is in extract/msauth/testdata/README.md.
func (p *Platform) Token(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if err := r.ParseForm(); err != nil {
		p.aadError(rep, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	clientID, secret, basic := r.BasicAuth()
	if !basic {
		clientID, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	tenant, grant, scope := r.PathValue("tenant"), r.PostForm.Get("grant_type"), r.PostForm.Get("scope")
	resourceScope := resourceScope(scope)
	resource := strings.TrimSuffix(resourceScope, "/.default")
	aud := p.audience(r, resource)
	switch {
	case !strings.EqualFold(tenant, p.m.TenantID) && !strings.EqualFold(tenant, p.m.Domain):
		p.aadError(rep, http.StatusBadRequest, "invalid_request", 90002, "Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")
	case grant == "":
		p.aadError(rep, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
	case grant != "client_credentials":
		p.aadError(rep, http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+grant+"'.")
	case clientID == "":
		p.aadError(rep, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
	case clientID != p.o.ClientID:
		p.aadError(rep, http.StatusBadRequest, "unauthorized_client", 700016, "Application with identifier '"+clientID+"' was not found in the directory '"+p.m.OrgName+"'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.")
	case r.PostForm.Get("client_assertion") != "":
		if code, msg := p.checkAssertion(r, clientID, tenant); code != 0 {
			p.aadError(rep, http.StatusUnauthorized, "invalid_client", code, msg)
			return
		}
		p.issue(w, r, rep, scope, resourceScope, resource, aud)
	case secret == "":
		p.aadError(rep, http.StatusUnauthorized, "invalid_client", 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.")
	case secret != p.o.ClientSecret:
		p.aadError(rep, http.StatusUnauthorized, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+clientID+"'.")
	case p.o.ExpiredSecret:
		p.aadError(rep, http.StatusUnauthorized, "invalid_client", 7000222, "The provided client secret keys for app '"+clientID+"' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds.")
	default:
		p.issue(w, r, rep, scope, resourceScope, resource, aud)
	}
}

// issue checks the scope and answers with an access token: the end of the grant, whatever the client credential.
func (p *Platform) issue(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, scope, resourceScope, resource, aud string) {
	switch {
	case scope == "":
		p.aadError(rep, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'scope'.")
	case strings.ContainsAny(resourceScope, " "):
		p.aadError(rep, http.StatusBadRequest, "invalid_scope", 700022, "The provided value for the input parameter scope is not valid because it contains more than one resource. Scope "+scope+" is not valid.")
	case !strings.HasSuffix(resourceScope, "/.default"):
		p.aadError(rep, http.StatusBadRequest, "invalid_scope", 1002012, "The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
	case aud == "":
		p.aadError(rep, http.StatusBadRequest, "invalid_scope", 70011, "The provided value for the input parameter 'scope' is not valid. The scope "+scope+" is not valid.")
	default:
		now := p.kit.Now()
		tok, err := p.signToken(aud, resource, now)
		if err != nil {
			p.aadError(rep, http.StatusInternalServerError, "temporarily_unavailable", 90033, "A transient error has occurred: "+err.Error())
			return
		}
		p.tokens.add(tok, issued{aud: aud, expires: now.Add(p.o.TokenLifetime)}, now)
		secs := strconv.Itoa(max(1, int(p.o.TokenLifetime/time.Second)))
		w.Header().Set("Cache-Control", "no-store, no-cache")
		rep.ContentType = simkit.PlainJSON
		b := append(rep.B[:0], `{"token_type":"Bearer","expires_in":`...)
		b = append(b, secs...)
		b = append(b, `,"ext_expires_in":`...)
		b = append(b, secs...)
		b = append(b, `,"access_token":"`...)
		b = append(b, tok...)
		rep.B = append(b, `"}`...)
	}
}

// resourceScope is the scope without the OpenID Connect scopes (openid, profile, offline_access, email) that
// MSAL adds to every request and the identity platform ignores in a client-credentials grant.
func resourceScope(scope string) string {
	var rest []string
	for _, f := range strings.Fields(scope) {
		switch f {
		case "openid", "profile", "offline_access", "email":
		default:
			rest = append(rest, f)
		}
	}
	return strings.Join(rest, " ")
}

// audience maps a scope's resource (without /.default) to the audience of the token ("" when unknown).
func (p *Platform) audience(r *http.Request, resource string) string {
	resource = strings.TrimRight(resource, "/")
	var base string
	var dv, fo []string
	if p.o.Resources != nil {
		base, dv, fo = p.o.Resources()
	}
	switch {
	case strings.EqualFold(resource, "https://graph.microsoft.com"), resource == GraphAppID,
		strings.EqualFold(resource, simkit.BaseURL(r)), resource != "" && strings.EqualFold(resource, base):
		return AudGraph
	}
	for e, u := range dv {
		if strings.EqualFold(resource, u) {
			return DataverseAudience(e)
		}
	}
	for e, u := range fo {
		if strings.EqualFold(resource, u) {
			return FinOpsAudience(e)
		}
	}
	return ""
}

// DataverseAudience is the audience of Dataverse environment e's tokens.
func DataverseAudience(e int) string { return "dataverse:" + strconv.Itoa(e) }

// FinOpsAudience is the audience of F&O environment e's tokens.
func FinOpsAudience(e int) string { return "finops:" + strconv.Itoa(e) }

// aadError renders the identity platform's error body: error, error_description (AADSTS code, then trace,
// correlation id and time on their own lines), error_codes, timestamp, trace_id, correlation_id and error_uri, as
// the error code reference shows it.
func (p *Platform) aadError(rep *simkit.Reply, status int, code string, aadsts int, desc string) {
	n := p.kit.Seq()
	trace := ids.GUID(ids.Hash(p.kit.Seed(), 0xaad1, n), ids.Hash(p.kit.Seed(), 0xaad2, n))
	corr := ids.GUID(ids.Hash(p.kit.Seed(), 0xaad3, n), ids.Hash(p.kit.Seed(), 0xaad4, n))
	ts := p.kit.Now().UTC().Format("2006-01-02 15:04:05Z")
	num := strconv.Itoa(aadsts)
	rep.Status, rep.ContentType = status, simkit.PlainJSON
	b := append(rep.B[:0], `{"error":`...)
	b = simkit.AppendJSONString(b, code)
	b = append(b, `,"error_description":`...)
	b = simkit.AppendJSONString(b, "AADSTS"+num+": "+desc+"\r\nTrace ID: "+trace+"\r\nCorrelation ID: "+corr+"\r\nTimestamp: "+ts)
	b = append(b, `,"error_codes":[`...)
	b = append(b, num...)
	b = append(b, `],"timestamp":"`...)
	b = append(b, ts...)
	b = append(b, `","trace_id":"`...)
	b = append(b, trace...)
	b = append(b, `","correlation_id":"`...)
	b = append(b, corr...)
	b = append(b, `","error_uri":"https://login.microsoftonline.com/error?code=`...)
	b = append(b, num...)
	rep.B = append(b, `"}`...)
}
