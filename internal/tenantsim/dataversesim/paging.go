package dataversesim

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// Paging and $select, as the Web API reads them for every entity set: Prefer odata.maxpagesize, $top, paging
// cookies.

// dvPaging reads the paging options: the page size from Prefer odata.maxpagesize (default and cap 5,000), $top,
// and whether formatted values were asked for.
type dvPaging struct {
	size       int
	preferred  bool
	top        int // 0 = none
	formatted  bool
	skipCookie string
}

func pagingOf(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) (dvPaging, bool) {
	p := dvPaging{size: 5000}
	for _, pref := range r.Header.Values("Prefer") {
		for _, part := range strings.Split(pref, ",") {
			part = strings.TrimSpace(part)
			if v, ok := strings.CutPrefix(part, "odata.maxpagesize="); ok {
				n, err := strconv.Atoi(v)
				if err != nil || n < 1 {
					dvError(rep, http.StatusBadRequest, dvQueryError, "The value of odata.maxpagesize preference must be a positive integer.")
					return p, false
				}
				p.size, p.preferred = min(n, 5000), true
			}
			if strings.HasPrefix(part, "odata.include-annotations=") &&
				(strings.Contains(part, "*") || strings.Contains(part, "FormattedValue")) {
				p.formatted = true
			}
		}
	}
	if v, ok := simkit.Query(r, "$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			dvError(rep, http.StatusBadRequest, dvQueryError, "Invalid value for $top: '"+v+"'.")
			return p, false
		}
		if !p.preferred { // with maxpagesize, $top is ignored ("Page results using OData")
			p.top = n
		}
	}
	if _, ok := simkit.Query(r, "$skip"); ok {
		dvError(rep, http.StatusBadRequest, dvQueryError, "The query parameter $skip is not supported")
		return p, false
	}
	p.skipCookie, _ = simkit.Query(r, "$skiptoken")
	if p.preferred {
		w.Header().Set("Preference-Applied", "odata.maxpagesize="+strconv.Itoa(p.size))
	}
	return p, true
}

// pagingCookie renders the $skiptoken of the page after one ending at lastID, as Dataverse writes it: an XML
// cookie whose pagingcookie attribute is itself an escaped cookie naming the first and last ids of the page.
func pagingCookie(entity string, page int, firstID, lastID string) string {
	inner := `<cookie page="` + strconv.Itoa(page) + `"><` + entity + ` last="{` + strings.ToUpper(lastID) + `}" first="{` +
		strings.ToUpper(firstID) + `}" /></cookie>`
	outer := `<cookie pagenumber="` + strconv.Itoa(page+1) + `" pagingcookie="` + cookieEscape(inner) + `" istracking="False" />`
	return url.PathEscape(outer)
}

// cookieEscape escapes as Dataverse does inside a paging cookie: every byte but letters, digits and '-' as %xx in
// lower case.
func cookieEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(ids.HexDigits[c>>4])
		b.WriteByte(ids.HexDigits[c&15])
	}
	return b.String()
}

// cookieLast reads the last id and page number back from a $skiptoken's value (already query-unescaped once).
func cookieLast(tok string) (lastID string, page int, ok bool) {
	i := strings.Index(tok, `pagingcookie="`)
	j := strings.Index(tok, `pagenumber="`)
	if i < 0 || j < 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(tok[j+len(`pagenumber="`) : j+len(`pagenumber="`)+strings.IndexByte(tok[j+len(`pagenumber="`):], '"')])
	if err != nil {
		return "", 0, false
	}
	rest := tok[i+len(`pagingcookie="`):]
	rest = rest[:max(0, strings.IndexByte(rest, '"'))]
	inner, err := url.PathUnescape(rest)
	if err != nil {
		return "", 0, false
	}
	if inner2, err := url.PathUnescape(inner); err == nil {
		inner = inner2
	}
	k := strings.Index(inner, `last="{`)
	if k < 0 || len(inner) < k+len(`last="{`)+36 {
		return "", 0, false
	}
	return strings.ToLower(inner[k+len(`last="{`) : k+len(`last="{`)+36]), n - 1, true
}

// selectProps reads $select against the properties an entity has; nil = all of them.
func selectProps(r *http.Request, rep *simkit.Reply, entity string, all []string) ([]string, bool) {
	v, ok := simkit.Query(r, "$select")
	if !ok {
		return all, true
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		found := false
		for _, a := range all {
			if strings.EqualFold(a, p) {
				out, found = append(out, a), true
				break
			}
		}
		if !found {
			dvError(rep, http.StatusBadRequest, dvQueryError, "Could not find a property named '"+p+"' on type 'Microsoft.Dynamics.CRM."+entity+"'.")
			return nil, false
		}
	}
	return out, true
}

// dvProps is an entity's properties in the order they are rendered, each with the kind a $filter compares
// ('s' string or GUID, 'b' boolean, 'i' integer, 't' DateTimeOffset, compared as Unix microseconds) and its value
// in a record of type T.
type dvProps[T any] struct {
	names  []string
	kinds  map[string]byte
	values map[string]func(T) simkit.Value
}

// dvProp declares one property: its name, its kind and its value (nil: always null).
type dvProp[T any] struct {
	name  string
	kind  byte
	value func(T) simkit.Value
}

func newDvProps[T any](props []dvProp[T]) dvProps[T] {
	p := dvProps[T]{kinds: map[string]byte{}, values: map[string]func(T) simkit.Value{}}
	for _, d := range props {
		p.names = append(p.names, d.name)
		p.kinds[d.name] = d.kind
		if d.value != nil {
			p.values[d.name] = d.value
		}
	}
	return p
}

// value is property prop of rec as a $filter compares it: null for a property the entity does not have.
func (p dvProps[T]) value(rec T, prop string) simkit.Value {
	if f, ok := p.values[prop]; ok {
		return f(rec)
	}
	return simkit.Value{Kind: 'n'}
}
