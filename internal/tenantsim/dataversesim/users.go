package dataversesim

import (
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// systemUserProps are the properties of a systemuser.
var systemUserProps = newDvProps([]dvProp[*model.DataverseUser]{
	{"systemuserid", 's', func(u *model.DataverseUser) simkit.Value { return simkit.NullableString(u.ID) }},
	{"domainname", 's', func(u *model.DataverseUser) simkit.Value { return simkit.NullableString(u.DomainName) }},
	{"internalemailaddress", 's', func(u *model.DataverseUser) simkit.Value { return simkit.NullableString(u.Email) }},
	{"fullname", 's', func(u *model.DataverseUser) simkit.Value { return simkit.NullableString(u.FullName) }},
	{"azureactivedirectoryobjectid", 's', func(u *model.DataverseUser) simkit.Value { return simkit.NullableString(u.AADObjectID) }},
	{"isdisabled", 'b', func(u *model.DataverseUser) simkit.Value { return simkit.BoolValue(u.Disabled) }},
	{"accessmode", 'i', func(u *model.DataverseUser) simkit.Value { return simkit.Value{Kind: 'i', I: int64(u.AccessMode)} }},
	{"islicensed", 'b', func(u *model.DataverseUser) simkit.Value { return simkit.BoolValue(u.Licensed) }},
	{"applicationid", 's', func(u *model.DataverseUser) simkit.Value { return simkit.NullableString(u.AppID) }},
	{"isintegrationuser", 'b', func(u *model.DataverseUser) simkit.Value { return simkit.BoolValue(u.Integration) }},
	{"createdon", 't', func(u *model.DataverseUser) simkit.Value { return simkit.Value{Kind: 'i', I: u.Created} }},
})

var accessModes = []string{"Read-Write", "Administrative", "Read", "Support User", "Non-interactive", "Delegated Admin"}

func appendDvValue(b []byte, v simkit.Value, prop string) []byte {
	switch {
	case v.Kind == 'n':
		return append(b, "null"...)
	case v.Kind == 'b':
		if v.I == 1 {
			return append(b, "true"...)
		}
		return append(b, "false"...)
	case prop == "createdon":
		return simkit.AppendDate(b, v.I)
	case v.Kind == 'i':
		return strconv.AppendInt(b, v.I, 10)
	}
	return simkit.AppendJSONString(b, v.S)
}

// systemUsers is GET systemusers: users in creation order, paged by cookie.
func (d *environment) systemUsers(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	env := d.env
	p, ok := pagingOf(w, r, rep)
	if !ok {
		return
	}
	props, ok := selectProps(r, rep, "systemuser", systemUserProps.names)
	if !ok {
		return
	}
	// The primary key comes back whether selected or not, after the selected columns ("Page results using OData":
	// contactid on a $select=fullname page).
	selected := props
	if !slices.Contains(props, "systemuserid") {
		props = append(slices.Clip(props), "systemuserid")
	}
	var filter *simkit.Filter
	if f, ok := simkit.Query(r, "$filter"); ok {
		var err error
		if filter, err = simkit.ParseFilter(f, systemUserProps.kinds); err != nil {
			dvError(rep, http.StatusBadRequest, dvQueryError, err.Error())
			return
		}
	}
	start, page := 0, 1
	if p.skipCookie != "" {
		last, pg, ok := cookieLast(p.skipCookie)
		idx := -1
		for i := range env.Users {
			if ok && env.Users[i].ID == last {
				idx = i
				break
			}
		}
		if idx < 0 {
			dvError(rep, http.StatusBadRequest, "0x80040203", "Invalid paging cookie.")
			return
		}
		start, page = idx+1, pg+1
	}
	size := p.size
	if p.top > 0 {
		size = p.top
	}
	b := append(rep.B[:0], `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, API+`$metadata#systemusers(`...)
	b = append(b, strings.Join(selected, ",")...)
	b = append(b, `)","value":[`...)
	n, first, last, more := 0, "", "", false
	for i := start; i < len(env.Users); i++ {
		u := &env.Users[i]
		if filter != nil && !filter.Eval(func(prop string) simkit.Value { return systemUserProps.value(u, prop) }) {
			continue
		}
		if n == size {
			more = true
			break
		}
		if n > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"@odata.etag":"W/\"`...)
		b = strconv.AppendUint(b, ids.Hash(d.seed, 0xe7, uint64(i))%100000000, 10)
		b = append(b, `\""`...)
		for _, prop := range props {
			v := systemUserProps.value(u, prop)
			if p.formatted && v.Kind != 'n' {
				switch prop {
				case "accessmode":
					b = append(b, `,"accessmode@OData.Community.Display.V1.FormattedValue":"`...)
					b = append(b, accessModes[u.AccessMode]...)
					b = append(b, '"')
				case "isdisabled":
					b = append(b, `,"isdisabled@OData.Community.Display.V1.FormattedValue":"`...)
					b = append(b, map[bool]string{true: "Disabled", false: "Enabled"}[u.Disabled]...)
					b = append(b, '"')
				}
			}
			b = append(b, `,"`...)
			b = append(b, prop...)
			b = append(b, `":`...)
			b = appendDvValue(b, v, prop)
		}
		b = append(b, '}')
		if first == "" {
			first = u.ID
		}
		last = u.ID
		n++
	}
	b = append(b, ']')
	if more && p.top == 0 {
		b = append(b, `,"@odata.nextLink":`...)
		b = simkit.AppendJSONString(b, simkit.NextLink(r, pagingCookie("systemuserid", page, first, last)))
	}
	rep.B = append(b, '}')
}
