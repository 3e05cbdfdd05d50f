package identity

import (
	"crypto/rsa"
	"crypto/x509"
	"net/http"
	"sync"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Options are the app registration the identity platform knows and how its tokens look.
type Options struct {
	ClientID, ClientSecret string
	ExpiredSecret          bool // the client secret has expired: AADSTS7000222
	// ClientCertificate is the certificate registered on the app: client assertions signed with its key are
	// accepted (certificate credentials); nil accepts none.
	ClientCertificate *x509.Certificate
	TokenLifetime     time.Duration
	GraphRoles        []string // the roles claim of Graph tokens: the application permissions the app holds
	// Resources are the URLs the simulator listens on, read when a token is asked for: its own (Graph's resource)
	// and each Dataverse and F&O environment's, whose URL is the resource of its tokens. Nil: Graph's only.
	Resources func() (base string, dataverse, finops []string)
}

// Platform is the tenant's identity platform: the token endpoint (client secret, certificate or managed
// identity), OpenID discovery and its signing keys, and the tokens it has issued, which the services check.
type Platform struct {
	m      *model.Tenant
	kit    *simkit.Kit
	o      Options
	tokens tokenStore

	keyOnce sync.Once // the token signing key, made on first use
	key     *rsa.PrivateKey
	kid     string
	keyErr  error
}

// New is the identity platform of tenant m (its id, domain and name) for the app o describes.
func New(m *model.Tenant, kit *simkit.Kit, o Options) *Platform {
	p := &Platform{m: m, kit: kit, o: o}
	p.tokens.init()
	p.tokens.now = kit.Now
	return p
}

// Register serves the platform's endpoints on mux. The token endpoint goes through front, the pipeline of the
// host it shares (injected faults, counters, error bodies); the discovery documents and the managed identity
// endpoint are answered as they are.
func (p *Platform) Register(mux *http.ServeMux, front func(family string, h simkit.Endpoint) http.HandlerFunc) {
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", front("token", p.Token))
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", p.openIDConfiguration)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", p.jwks)
	mux.HandleFunc("GET /common/discovery/instance", p.instanceDiscovery)
	mux.HandleFunc("GET /_sim/managed-identity/token", p.managedIdentity)
}

// Check says why tok is not a valid token for aud now ("" when it is).
func (p *Platform) Check(tok, aud string) string { return p.tokens.Check(tok, aud) }

// ExpireAll makes every token issued so far expired, as an early expiry or a revocation would.
func (p *Platform) ExpireAll() { p.tokens.ExpireAll() }

// Issued is the number of access tokens issued so far.
func (p *Platform) Issued() int64 { return p.tokens.count() }
