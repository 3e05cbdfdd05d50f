package finops

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/outbound"
	"github.com/seatlake/seatlake/internal/table"
)

// ErrMissingEntity means the environment's $metadata lacks an entity or property seatlake reads.
var ErrMissingEntity = errors.New("finops: entity or property missing from $metadata")

// Extractor reads one environment. Fields are set once; methods may run concurrently.
type Extractor struct {
	Environment string // the environment URL, e.g. https://contoso.operations.dynamics.com (no /data)
	ClientID    string
	pages.Run
}

// entity is what seatlake reads of one entity set.
type entity struct {
	set, typ string
	props    []string
}

var (
	usersEntity     = entity{"SystemUsers", "SystemUser", []string{"UserID", "UserName", "Alias", "Email", "Enabled", "NetworkDomain", "Company", "PersonName", "AccountType", "ExternalUser"}}
	rolesEntity     = entity{"SecurityRoles", "SecurityRole", []string{"SecurityRoleIdentifier", "SecurityRoleName", "Description", "UserLicenseType"}}
	userRolesEntity = entity{"SecurityUserRoles", "SecurityUserRole", []string{"UserId", "SecurityRoleIdentifier", "SecurityRoleName", "AssignmentStatus", "AssignmentMode", "UserLicenseType"}}
	entities        = []entity{usersEntity, rolesEntity, userRolesEntity}
)

func (x *Extractor) url(e entity) string {
	return strings.TrimRight(x.Environment, "/") + "/data/" + e.set + "?cross-company=true&$select=" + strings.Join(e.props, ",")
}

func (x *Extractor) explain(err error, what string) error {
	var he *outbound.Error
	if errors.As(err, &he) {
		switch he.Status {
		case 401, 403:
			return fmt.Errorf("reading %s from %s: the environment refused the app: register client id %s in F&O (System administration > Setup > "+
				"Microsoft Entra applications) mapped to a user with a role that reads users and security roles: %w", what, x.Environment, x.ClientID, err)
		case 404:
			return fmt.Errorf("%w: reading %s from %s: the entity is not served (is it public, and is this an F&O environment URL?): %v",
				ErrMissingEntity, what, x.Environment, err)
		}
	}
	return fmt.Errorf("reading %s from %s: %w", what, x.Environment, err)
}

// csdl is the part of $metadata the check reads.
type csdl struct {
	Schemas []struct {
		EntityTypes []struct {
			Name       string `xml:"Name,attr"`
			Properties []struct {
				Name string `xml:"Name,attr"`
			} `xml:"Property"`
		} `xml:"EntityType"`
		Containers []struct {
			Sets []struct {
				Name       string `xml:"Name,attr"`
				EntityType string `xml:"EntityType,attr"`
			} `xml:"EntitySet"`
		} `xml:"EntityContainer"`
	} `xml:"DataServices>Schema"`
}

// CheckMetadata reads /data/$metadata once and checks that every entity and property seatlake selects exists. The
// error names each missing one (entity, property, environment) and wraps ErrMissingEntity.
func (x *Extractor) CheckMetadata(ctx context.Context, g pages.Getter) error {
	var buf bytes.Buffer
	if err := g.Get(ctx, strings.TrimRight(x.Environment, "/")+"/data/$metadata", &buf); err != nil {
		return x.explain(err, "$metadata")
	}
	var doc csdl
	if err := xml.Unmarshal(buf.Bytes(), &doc); err != nil {
		return fmt.Errorf("reading $metadata from %s: not a CSDL document: %w", x.Environment, err)
	}
	sets := map[string]string{}
	props := map[string]map[string]bool{}
	for _, s := range doc.Schemas {
		for _, t := range s.EntityTypes {
			ps := map[string]bool{}
			for _, p := range t.Properties {
				ps[p.Name] = true
			}
			props[t.Name] = ps
		}
		for _, c := range s.Containers {
			for _, es := range c.Sets {
				sets[es.Name] = es.EntityType[strings.LastIndexByte(es.EntityType, '.')+1:]
			}
		}
	}
	var missing []string
	for _, e := range entities {
		typ, ok := sets[e.set]
		if !ok {
			missing = append(missing, "entity "+e.set)
			continue
		}
		for _, p := range e.props {
			if !props[typ][p] {
				missing = append(missing, "property "+e.set+"."+p)
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s has no %s: seatlake reads them; check that the data entities exist and are public in this environment "+
			"(Data management > Data entities) and that the URL is the environment's root", ErrMissingEntity, x.Environment, strings.Join(missing, ", "))
	}
	return nil
}

// Result says what one entity read produced.
type Result = pages.Counts

func walk[T any](ctx context.Context, x *Extractor, p pages.Pager, e entity, t *table.Table, sink table.Sink, row func(bt *table.Batcher) func(v *T)) (Result, error) {
	bt := x.NewBatcher(t, sink)
	defer bt.Release()
	prov := x.Provenance(bt.Builder())
	env := bt.String(envColumn.Name)
	fill := row(bt)
	res, err := pages.Rows(ctx, p, x.url(e), e.set, bt, func(v *T) bool {
		prov.Append()
		env.Append(x.Environment)
		fill(v)
		return true
	})
	if err != nil {
		return res, x.explain(err, e.set)
	}
	return res, bt.Flush(ctx)
}

type userJSON struct {
	UserID        string  `json:"UserID"`
	UserName      *string `json:"UserName"`
	Alias         *string `json:"Alias"`
	Email         *string `json:"Email"`
	Enabled       *bool   `json:"Enabled"`
	NetworkDomain *string `json:"NetworkDomain"`
	Company       *string `json:"Company"`
	PersonName    *string `json:"PersonName"`
	AccountType   *string `json:"AccountType"`
	ExternalUser  *bool   `json:"ExternalUser"`
}

// Users reads SystemUsers into finops_users.
func (x *Extractor) Users(ctx context.Context, p pages.Pager, sink table.Sink) (Result, error) {
	return walk(ctx, x, p, usersEntity, Users, sink, func(bt *table.Batcher) func(*userJSON) {
		id, name, alias, email, dom, comp, person, acct := bt.String("user_id"), bt.String("user_name"), bt.String("alias"), bt.String("email"),
			bt.String("network_domain"), bt.String("company"), bt.String("person_name"), bt.String("account_type")
		enabled, ext := bt.Bool("enabled"), bt.Bool("external_user")
		return func(v *userJSON) {
			id.Append(v.UserID)
			table.AppendString(name, v.UserName)
			table.AppendString(alias, v.Alias)
			table.AppendString(email, v.Email)
			table.AppendBool(enabled, v.Enabled)
			table.AppendString(dom, v.NetworkDomain)
			table.AppendString(comp, v.Company)
			table.AppendString(person, v.PersonName)
			table.AppendString(acct, v.AccountType)
			table.AppendBool(ext, v.ExternalUser)
		}
	})
}

type roleJSON struct {
	ID          string  `json:"SecurityRoleIdentifier"`
	Name        *string `json:"SecurityRoleName"`
	Description *string `json:"Description"`
	License     *string `json:"UserLicenseType"`
}

func appendTier(tier *array.StringBuilder, rank *array.Int32Builder, license *string) {
	l := ""
	if license != nil {
		l = *license
	}
	t, r := Tier(l)
	tier.Append(t)
	rank.Append(r)
}

// SecurityRoles reads SecurityRoles into finops_security_roles.
func (x *Extractor) SecurityRoles(ctx context.Context, p pages.Pager, sink table.Sink) (Result, error) {
	return walk(ctx, x, p, rolesEntity, SecurityRoles, sink, func(bt *table.Batcher) func(*roleJSON) {
		id, name, desc, lic, tier, rank := bt.String("security_role_identifier"), bt.String("security_role_name"), bt.String("description"),
			bt.String("user_license_type"), bt.String("license_tier"), bt.Int32("license_rank")
		return func(v *roleJSON) {
			id.Append(v.ID)
			table.AppendString(name, v.Name)
			table.AppendString(desc, v.Description)
			table.AppendString(lic, v.License)
			appendTier(tier, rank, v.License)
		}
	})
}

type userRoleJSON struct {
	UserID  string  `json:"UserId"`
	RoleID  string  `json:"SecurityRoleIdentifier"`
	Name    *string `json:"SecurityRoleName"`
	Status  *string `json:"AssignmentStatus"`
	Mode    *string `json:"AssignmentMode"`
	License *string `json:"UserLicenseType"`
}

// UserRoles reads SecurityUserRoles into finops_user_roles.
func (x *Extractor) UserRoles(ctx context.Context, p pages.Pager, sink table.Sink) (Result, error) {
	return walk(ctx, x, p, userRolesEntity, UserRoles, sink, func(bt *table.Batcher) func(*userRoleJSON) {
		uid, rid, name, status, mode, lic, tier, rank := bt.String("user_id"), bt.String("security_role_identifier"), bt.String("security_role_name"),
			bt.String("assignment_status"), bt.String("assignment_mode"), bt.String("user_license_type"), bt.String("license_tier"), bt.Int32("license_rank")
		return func(v *userRoleJSON) {
			uid.Append(v.UserID)
			rid.Append(v.RoleID)
			table.AppendString(name, v.Name)
			table.AppendString(status, v.Status)
			table.AppendString(mode, v.Mode)
			table.AppendString(lic, v.License)
			appendTier(tier, rank, v.License)
		}
	})
}
