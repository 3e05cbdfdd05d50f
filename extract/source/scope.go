package source

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/extract/odata"
	"github.com/seatlake/seatlake/internal/outbound"
)

// What sources reading several environments of a tenant (one scope each) share: naming an environment, checking
// its URL, saying why its token was refused.

// Host is an environment URL's host, which names its streams (e.g. dataverse_users contoso.crm.dynamics.com).
func Host(env string) string {
	if u, err := url.Parse(env); err == nil && u.Host != "" {
		return u.Host
	}
	return env
}

// CheckRoots checks environment URLs: https (http only on loopback), the environment's root without a path, each
// listed once.
func CheckRoots(envs []string) error {
	var errs []error
	seen := map[string]bool{}
	for _, env := range envs {
		if err := msauth.CheckEndpoint(env); err != nil {
			errs = append(errs, fmt.Errorf("environment %s: %w", env, err))
		}
		if u, err := url.Parse(env); err == nil && (u.Path != "" && u.Path != "/" || u.RawQuery != "") {
			errs = append(errs, fmt.Errorf("environment %s: give the environment's root URL (e.g. https://contoso.crm.dynamics.com), without a path", env))
		}
		if seen[env] {
			errs = append(errs, fmt.Errorf("environment %s is listed twice", env))
		}
		seen[env] = true
	}
	return errors.Join(errs...)
}

// TokenProblem is a check line's detail and action for a token that was not issued.
func TokenProblem(err error) (detail, action string) {
	detail = OneLine(err.Error())
	if ce := outbound.CertificateProblem(err); ce != nil {
		return OneLine(strings.Replace(err.Error(), ": "+ce.Fix, "", 1)), ce.Fix
	}
	var ae *msauth.AuthError
	if errors.As(err, &ae) {
		return detail, "fix the app registration's credentials as the AADSTS message says"
	}
	return detail, "check the authority host and the network"
}

// OneLine is s on one line, as a check line's detail.
func OneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// ScopeClient is the OData client of one scope's streams (an environment): made once from the run's configuration
// for the environment's URL, with the scope's headers and a gate of its own (an environment's limits are its own).
type ScopeClient struct {
	URL    string
	Header http.Header
	once   sync.Once
	c      *odata.Client
}

// For is the scope's client, counting into the stream's statistics.
func (s *ScopeClient) For(env Env) *odata.Client {
	s.once.Do(func() {
		cfg := env.HTTP(s.URL)
		cfg.Header, cfg.Gate, cfg.Logger = s.Header, outbound.NewGate(), cfg.Logger.With("environment", s.URL)
		s.c = odata.NewClient(cfg)
	})
	return s.c.WithStats(env.Stats)
}

// CheckToken is the first check of an environment: a token for it. It returns the environment's client
// configuration, or the failed check line.
func CheckToken(ctx context.Context, env Env, url string) (outbound.Config, *Check) {
	cfg := env.HTTP(url)
	if _, err := cfg.Tokens.Token(ctx); err != nil {
		detail, action := TokenProblem(err)
		return cfg, &Check{Target: url, Name: "token", Status: Fail, Detail: detail, Action: action}
	}
	return cfg, nil
}
