package dataverse

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	json "github.com/goccy/go-json"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// PageSize is what every request asks for with Prefer: odata.maxpagesize (Dataverse's maximum).
const PageSize = 5000

// Headers are sent on every Dataverse request, as "Compose HTTP requests and handle errors" asks of every request
// (OData-MaxVersion and OData-Version 4.0, If-None-Match: null against cached answers; the pager adds Accept:
// application/json), with the page size of "Page results using OData".
func Headers() http.Header {
	return http.Header{
		"Odata-Maxversion": {"4.0"},
		"Odata-Version":    {"4.0"},
		"If-None-Match":    {"null"},
		"Prefer":           {"odata.maxpagesize=" + strconv.Itoa(PageSize)},
	}
}

// ErrNoApplicationUser means the environment has no application user for the app registration.
var ErrNoApplicationUser = errors.New("dataverse: the app has no application user in the environment")

// Extractor reads one environment. Fields are set once; methods may run concurrently.
type Extractor struct {
	Environment    string // the environment URL, e.g. https://contoso.crm.dynamics.com (no trailing slash)
	OrganizationID string // set from Settings or WhoAmI before Users and Audits; "" lands as null
	ClientID       string // the app registration, named in messages about the application user
	pages.Run
}

func (x *Extractor) url(path, query string) string {
	u := strings.TrimRight(x.Environment, "/") + "/api/data/v9.2/" + path
	if query != "" {
		u += "?" + query
	}
	return u
}

// explain turns Dataverse's well-known refusals into errors that say what to do.
func (x *Extractor) explain(err error, what string) error {
	var he *outbound.Error
	if errors.As(err, &he) {
		switch {
		case he.Code == "0x80072560" || strings.Contains(he.Message, "not a member of the organization"):
			return fmt.Errorf("%w: reading %s from %s: create an application user for client id %s in the environment "+
				"(Power Platform admin center > Environments > the environment > Settings > Users + permissions > Application users) "+
				"with a security role that reads users and audit history: %w", ErrNoApplicationUser, what, x.Environment, x.ClientID, err)
		case he.Status == 403:
			return fmt.Errorf("reading %s from %s: the application user lacks a privilege: give it a security role with read access to "+
				"users and audit summaries (prvReadAuditSummary): %w", what, x.Environment, err)
		case he.Status == 401:
			return fmt.Errorf("reading %s from %s: the environment refused the token: check the environment URL and that the app "+
				"registration is in the environment's tenant: %w", what, x.Environment, err)
		}
	}
	return fmt.Errorf("reading %s from %s: %w", what, x.Environment, err)
}

// Settings is an environment's audit configuration.
type Settings struct {
	OrganizationID          string
	AuditEnabled            bool
	UserAccessAuditEnabled  bool
	UserAccessIntervalHours int
	RetentionDays           int
}

// Gap says which Dynamics activity evidence the settings leave out, and the action that turns it on ("" when
// nothing is missing).
func (s Settings) Gap() (missing, action string) {
	const where = " (Power Platform admin center > Environments > the environment > Settings > Audit and logs > Audit settings)"
	switch {
	case !s.AuditEnabled:
		return "auditing is off, so Dynamics activity evidence (user access, record changes) for this environment is missing",
			"turn on \"Start Auditing\" and \"Log access\"" + where
	case !s.UserAccessAuditEnabled:
		return "user access auditing is off, so the last access of each user is missing", "turn on \"Log access\"" + where
	}
	return "", ""
}

// Warnings is Gap as run warnings for environment env.
func (s Settings) Warnings(env string) []string {
	if missing, action := s.Gap(); missing != "" {
		return []string{"dataverse " + env + ": " + missing + ": " + action}
	}
	return nil
}

// SettingsURL is the organizations query.
func (x *Extractor) SettingsURL() string {
	return x.url("organizations", "$select=organizationid,isauditenabled,isuseraccessauditenabled,useraccessauditinginterval,auditretentionperiodv2")
}

// Settings reads GET organizations into dataverse_audit_settings and returns it (OrganizationID included).
func (x *Extractor) Settings(ctx context.Context, p pages.Pager, sink table.Sink) (Settings, error) {
	var page struct {
		Value []struct {
			OrganizationID string `json:"organizationid"`
			Audit          *bool  `json:"isauditenabled"`
			Access         *bool  `json:"isuseraccessauditenabled"`
			Interval       *int32 `json:"useraccessauditinginterval"`
			Retention      *int32 `json:"auditretentionperiodv2"`
		} `json:"value"`
	}
	decode := func(body []byte) (string, error) {
		if err := json.Unmarshal(body, &page); err != nil {
			return "", pages.Bad("organizations", err)
		}
		return "", nil
	}
	if err := p.Walk(ctx, x.SettingsURL(), decode); err != nil {
		return Settings{}, x.explain(err, "the audit settings")
	}
	if len(page.Value) != 1 {
		return Settings{}, fmt.Errorf("reading the audit settings from %s: %d organization rows, want 1", x.Environment, len(page.Value))
	}
	v := page.Value[0]
	s := Settings{OrganizationID: v.OrganizationID}
	if v.Audit != nil {
		s.AuditEnabled = *v.Audit
	}
	if v.Access != nil {
		s.UserAccessAuditEnabled = *v.Access
	}
	if v.Interval != nil {
		s.UserAccessIntervalHours = int(*v.Interval)
	}
	if v.Retention != nil {
		s.RetentionDays = int(*v.Retention)
	}
	bt := x.NewBatcher(AuditSettings, sink)
	defer bt.Release()
	x.provenance(bt, s.OrganizationID)()
	table.AppendBool(bt.Bool("isauditenabled"), v.Audit)
	table.AppendBool(bt.Bool("isuseraccessauditenabled"), v.Access)
	table.AppendInt32(bt.Int32("useraccessauditinginterval"), v.Interval)
	table.AppendInt32(bt.Int32("auditretentionperiodv2"), v.Retention)
	if err := bt.RowDone(ctx); err != nil {
		return s, err
	}
	return s, bt.Flush(ctx)
}

// provenance appends the columns every Dataverse row starts with.
func (x *Extractor) provenance(bt *table.Batcher, orgID string) func() {
	prov := x.Provenance(bt.Builder())
	env, org := bt.String(envColumn.Name), bt.String(orgColumn.Name)
	return func() {
		prov.Append()
		env.Append(x.Environment)
		if orgID == "" {
			org.AppendNull()
		} else {
			org.Append(orgID)
		}
	}
}

// WhoAmI is the caller's identity in the environment.
type WhoAmI struct {
	UserID         string `json:"UserId"`
	BusinessUnitID string `json:"BusinessUnitId"`
	OrganizationID string `json:"OrganizationId"`
}

// WhoAmI calls the WhoAmI function: it succeeds only when the app has an application user in the environment.
func (x *Extractor) WhoAmI(ctx context.Context, g pages.Getter) (WhoAmI, error) {
	var buf bytes.Buffer
	var w WhoAmI
	if err := g.Get(ctx, x.url("WhoAmI", ""), &buf); err != nil {
		return w, x.explain(err, "WhoAmI")
	}
	if err := json.Unmarshal(buf.Bytes(), &w); err != nil {
		return w, fmt.Errorf("reading WhoAmI from %s: %w", x.Environment, err)
	}
	return w, nil
}

// UsersURL is the systemusers query.
func (x *Extractor) UsersURL() string {
	return x.url("systemusers", "$select=systemuserid,domainname,internalemailaddress,fullname,azureactivedirectoryobjectid,"+
		"isdisabled,accessmode,islicensed,applicationid,isintegrationuser,createdon")
}

type userJSON struct {
	ID          string  `json:"systemuserid"`
	Domain      *string `json:"domainname"`
	Email       *string `json:"internalemailaddress"`
	FullName    *string `json:"fullname"`
	AAD         *string `json:"azureactivedirectoryobjectid"`
	Disabled    *bool   `json:"isdisabled"`
	AccessMode  *int32  `json:"accessmode"`
	Licensed    *bool   `json:"islicensed"`
	AppID       *string `json:"applicationid"`
	Integration *bool   `json:"isintegrationuser"`
	CreatedOn   *string `json:"createdon"`
}

// UsersResult says what Users read.
type UsersResult struct {
	Rows, Pages, BadValues int64
}

// Users reads GET systemusers into dataverse_users.
func (x *Extractor) Users(ctx context.Context, p pages.Pager, sink table.Sink) (UsersResult, error) {
	var res UsersResult
	bt := x.NewBatcher(Users, sink)
	defer bt.Release()
	prov := x.provenance(bt, x.OrganizationID)
	id, domain, email, name, aad, app := bt.String("systemuserid"), bt.String("domainname"), bt.String("internalemailaddress"),
		bt.String("fullname"), bt.String("azureactivedirectoryobjectid"), bt.String("applicationid")
	disabled, licensed, integration := bt.Bool("isdisabled"), bt.Bool("islicensed"), bt.Bool("isintegrationuser")
	mode, created := bt.Int32("accessmode"), bt.Timestamp("createdon")
	n, err := pages.Rows(ctx, p, x.UsersURL(), "systemusers", bt, func(v *userJSON) bool {
		if v.ID == "" {
			x.SetAsideJSON(Users, v)
			res.BadValues++
			return false
		}
		prov()
		id.Append(v.ID)
		table.AppendString(domain, v.Domain)
		table.AppendString(email, v.Email)
		table.AppendString(name, v.FullName)
		table.AppendString(aad, v.AAD)
		table.AppendBool(disabled, v.Disabled)
		table.AppendInt32(mode, v.AccessMode)
		table.AppendBool(licensed, v.Licensed)
		table.AppendString(app, v.AppID)
		table.AppendBool(integration, v.Integration)
		table.AppendTime(created, v.CreatedOn, &res.BadValues)
		return true
	})
	res.Rows, res.Pages = n.Rows, n.Pages
	if err != nil {
		return res, x.explain(err, "systemusers")
	}
	return res, bt.Flush(ctx)
}
