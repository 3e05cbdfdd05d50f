package graph

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	json "github.com/goccy/go-json"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
)

// Resource is the Microsoft Graph resource (token audience) for the public cloud.
const Resource = "https://graph.microsoft.com"

// Page sizes: Graph's maxima (users: 999, or 500 with signInActivity; sign-ins: 1000).
const (
	usersPageSize          = 999
	usersActivityPageSize  = 500
	signInsPageSize        = 1000
	codeNonPremium         = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
	codeRequestDenied      = "Authorization_RequestDenied"
	graphTimeFilterLayout  = "2006-01-02T15:04:05.9999999Z" // whole seconds print without a fraction
	graphTick              = 100 * time.Nanosecond          // Graph writes times to seven fractional digits
	userSelect             = "id,userPrincipalName,displayName,mail,givenName,surname,accountEnabled,userType,createdDateTime,department,jobTitle,assignedLicenses,licenseAssignmentStates"
	userSelectWithActivity = userSelect + ",signInActivity"
)

// ErrNoPremium means the tenant has no Entra ID P1/P2, so signInActivity and sign-in logs cannot be read.
var ErrNoPremium = errors.New("graph: tenant has no Entra ID P1/P2 license (signInActivity and sign-in logs unavailable)")

// Extractor reads one tenant's Graph data. Fields are set once; methods may run concurrently.
type Extractor struct {
	Endpoint string // Graph base URL without /v1.0, e.g. https://graph.microsoft.com
	pages.Run
}

func (x *Extractor) url(path string, query string) string {
	u := strings.TrimRight(x.Endpoint, "/") + "/v1.0/" + path
	if query != "" {
		u += "?" + query
	}
	return u
}

// explain turns Graph's well-known refusals into errors a person can act on.
func explain(err error, what, permission string) error {
	var he *outbound.Error
	if errors.As(err, &he) {
		switch {
		case he.Code == codeNonPremium:
			return fmt.Errorf("%w: %v", ErrNoPremium, err)
		case he.Status == 403 || he.Code == codeRequestDenied:
			return fmt.Errorf("reading %s: permission missing: grant the app the Microsoft Graph application permission %s and admin consent: %w", what, permission, err)
		}
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

// isNoPremium reports whether err is Graph's "no Entra ID P1" refusal.
func isNoPremium(err error) bool {
	var he *outbound.Error
	return errors.As(err, &he) && he.Code == codeNonPremium
}

// filterEscape escapes an OData $filter for a query string the way Graph's documentation writes them: spaces as
// %20, colons and quotes left readable, and only the characters that would break the query string escaped.
var filterEscaper = strings.NewReplacer("%", "%25", " ", "%20", "&", "%26", "#", "%23", "+", "%2B")

func filterEscape(f string) string { return filterEscaper.Replace(f) }

func itoa(n int) string { return strconv.Itoa(n) }

// jsonUnmarshal decodes a page; goccy/go-json is several times faster than encoding/json on sign-in pages.
func jsonUnmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }
