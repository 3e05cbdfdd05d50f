package tenantsim

import (
	"crypto/x509"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/dataversesim"
	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
)

// Config describes the simulated tenant and how its services behave. Use DefaultConfig and change what matters:
// zero values of Days, TokenLifetime, Throttle, TenantID, ClientID, ClientSecret, Now and Logger get the defaults
// below, while IdleShare, Premium, ConcealedNames, DataverseEnvs and FinOpsEnvs are taken as given.
type Config struct {
	Seed    int64
	Users   int   // 1..1,000,000 users (about 0.7 KB of memory each, measured at 100,000: see doc.go)
	Days    int   // days of sign-in history, today included (default 30; at most 30 are served, as with P1)
	SignIns int64 // sign-ins in the history; 0 = about two a day per active user

	IdleShare      float64 // share of users whose last sign-in is 60-300 days old (0..0.9)
	Premium        bool    // Entra ID P1: off => signInActivity and the sign-in log answer 403
	ConcealedNames bool    // reportSettings.displayConcealedNames

	Throttle      string        // service limits: "realistic", "scaled" (for demos: graphsim.Options, dataversesim.LimitsOf) or "off"
	TokenLifetime time.Duration // lifetime of access tokens (default 1h)
	ExpiredSecret bool          // the token endpoint answers AADSTS7000222: the client secret has expired
	// ClientCertificate is the certificate registered on the app: client assertions signed with its key are
	// accepted (certificate credentials); nil accepts none.
	ClientCertificate *x509.Certificate

	TenantID, ClientID, ClientSecret string // defaults: a GUID and a secret derived from Seed, a fixed client id

	// GraphPermissions are the Graph application permissions in tokens' roles claim, which Graph enforces
	// (nil: AllGraphPermissions).
	GraphPermissions []string

	// Dynamics 365. Each environment is served on its own loopback port once started.
	DataverseEnvs int // Dataverse environments (DefaultConfig: 1; 0 serves none)
	FinOpsEnvs    int // Finance and Operations environments (DefaultConfig: 1; 0 serves none)
	// FinOpsEvents is the number of F&O business events of the plan this simulator sends or whose changes it
	// applies (POST /_sim/finops-events/apply); /_sim/truth reports it as finops_events_distinct.
	FinOpsEvents        int
	AuditsPerEnv        int64            // about this many user-driven audit records per Dataverse environment (0: realistic)
	AuditingOff         map[int]bool     // Dataverse environments (by index) with auditing off
	NoApplicationUser   map[int]bool     // Dataverse environments without seatlake's application user
	FinOpsMissingEntity []string         // per F&O environment: an entity left out of $metadata and the service
	FinOpsPageSize      int              // server-driven page size of F&O (default 10,000)
	DataverseLimits     *DataverseLimits // override the throttle mode's Dataverse limits
	PageLatency         time.Duration    // each Dataverse and F&O page takes at least this long, as at Microsoft
	TLS                 bool             // serve https with the simulator's own CA (CAPEM) instead of http

	// Now anchors the history: it is read once, in New, and the newest sign-in falls just before it (truncated to
	// the minute); the history starts at midnight UTC Days-1 days earlier. Default time.Now. Token expiry and service
	// limits run on the wall clock regardless, so a fixed Now still gives expiring tokens.
	Now    func() time.Time
	Logger *slog.Logger
}

// DefaultConfig is a 2,000-user tenant with 30 days of history, Entra ID P1, concealed report names and no
// throttling (the library default; `seatlake sim` and `seatlake demo` choose their own).
func DefaultConfig() Config {
	return Config{Seed: 1, Users: 2000, Days: 30, IdleShare: 0.2, Premium: true, ConcealedNames: true,
		Throttle: "off", TokenLifetime: time.Hour, DataverseEnvs: 1, FinOpsEnvs: 1}
}

// DefaultClientID is the application (client) id the simulator accepts unless Config.ClientID says otherwise.
const DefaultClientID = "5f3a8e2c-1b7d-4c9e-a6f0-3d2b1c0e9a87"

func (c *Config) validate() error {
	switch {
	case c.DataverseEnvs < 0 || c.DataverseEnvs > 16 || c.FinOpsEnvs < 0 || c.FinOpsEnvs > 16:
		return fmt.Errorf("environments %d Dataverse, %d F&O: want 0..16 of each", c.DataverseEnvs, c.FinOpsEnvs)
	case c.Users < 1 || c.Users > 1_000_000:
		return fmt.Errorf("users %d: want 1..1,000,000", c.Users)
	case c.Days < 0 || c.Days > 365:
		return fmt.Errorf("days %d: want 1..365", c.Days)
	case c.SignIns < 0:
		return fmt.Errorf("sign-ins %d: want >= 0", c.SignIns)
	case c.SignIns/int64(max(c.Days, 1)) > 1_000_000_000:
		return fmt.Errorf("sign-ins %d: more than a billion a day", c.SignIns)
	case c.IdleShare < 0 || c.IdleShare > 0.9:
		return fmt.Errorf("idle share %.2f: want 0..0.9", c.IdleShare)
	case c.TokenLifetime < 0:
		return fmt.Errorf("token lifetime %s: want > 0", c.TokenLifetime)
	}
	switch c.Throttle {
	case "", "realistic", "scaled", "off":
	default:
		return fmt.Errorf("throttle %q: want realistic, scaled or off", c.Throttle)
	}
	return nil
}

// DataverseLimits are the service protection limits of one environment, per application user ("Service protection
// API limits").
type DataverseLimits = dataversesim.Limits

// setDefaults gives the zero values their defaults (Config says which).
func (c *Config) setDefaults() {
	if c.Days == 0 {
		c.Days = 30
	}
	if c.Throttle == "" {
		c.Throttle = "off"
	}
	if c.TokenLifetime == 0 {
		c.TokenLifetime = time.Hour
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.FinOpsPageSize <= 0 {
		c.FinOpsPageSize = 10000
	}
	if c.TenantID == "" {
		c.TenantID = ids.GUID(ids.Hash(c.Seed, 1), ids.Hash(c.Seed, 2))
	}
	if c.ClientID == "" {
		c.ClientID = DefaultClientID
	}
	if c.ClientSecret == "" {
		c.ClientSecret = "sim~" + strconv.FormatUint(ids.Hash(c.Seed, 9), 36) + "." + strconv.FormatUint(ids.Hash(c.Seed, 10), 36)
	}
}

// tenant is what the model is generated from.
func (c *Config) tenant() model.Params {
	return model.Params{Seed: c.Seed, TenantID: c.TenantID, Users: c.Users, Days: c.Days, SignIns: c.SignIns,
		IdleShare: c.IdleShare, Premium: c.Premium, ConcealedNames: c.ConcealedNames, DataverseEnvs: c.DataverseEnvs,
		FinOpsEnvs: c.FinOpsEnvs, AuditsPerEnv: c.AuditsPerEnv, AuditingOff: c.AuditingOff,
		NoApplicationUser: c.NoApplicationUser, FinOpsMissingEntity: c.FinOpsMissingEntity, Now: c.Now()}
}
