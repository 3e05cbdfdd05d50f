package graphsim

import (
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/seatlake/seatlake/internal/tenantsim/graphsim/userfilter"
	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// The query options of GET /users and /users/$count, as "Advanced query capabilities on directory objects" and "List
// users" describe them (facts in extract/graph/testdata/README.md):
//   - $filter with eq (and in) on accountEnabled, userType, id, userPrincipalName, mail, displayName, givenName,
//     surname, department, jobTitle, startsWith on the strings and assignedLicenses/any(x:x/skuId eq …) work by
//     default; ne, not, endsWith (mail, userPrincipalName), eq null and createdDateTime (eq, ge, le) need the advanced
//     query parameters: the ConsistencyLevel: eventual header and $count=true. Without them: 400
//     Request_UnsupportedQuery.
//   - $orderby userPrincipalName or displayName works by default; with $filter it needs the advanced parameters
//     (400 "Sorting not supported for current query." otherwise).
//   - $count=true adds @odata.count to the first page when ConsistencyLevel is eventual and is silently ignored
//     without it; /users/$count answers the number as text/plain with the header, 400 Request_BadRequest without.
//   - $search needs ConsistencyLevel (400 Request_UnsupportedQuery without it).

// userQuery is a parsed request on the users collection.
type userQuery struct {
	props  []string
	hasSel bool
	top    int
	match  func(u *model.User) bool // nil: every user
	order  int                      // orderNone, orderUPN, orderName
	desc   bool
	count  bool // @odata.count asked for and honoured
}

const (
	orderNone = iota
	orderUPN
	orderName
)

// advancedHeader reports whether the request carries ConsistencyLevel: eventual.
func advancedHeader(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// parseUserQuery reads the query options of GET /users (collection) or GET /users/$count (!collection), answering
// Graph's error and returning false when they are refused.
func (g *Service) parseUserQuery(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, collection bool) (userQuery, bool) {
	var q userQuery
	allowed := []string{"$filter", "$search"}
	if collection {
		allowed = append(allowed, "$select", "$top", "$skiptoken", "$orderby", "$count")
	}
	if !g.queryOptions(w, r, rep, allowed...) {
		return q, false
	}
	header := advancedHeader(r)
	countTrue, ok := g.countOption(w, r, rep, collection)
	if !ok {
		return q, false
	}
	advanced := header && countTrue
	q.count = collection && advanced
	if collection && !g.pageOptions(w, r, rep, &q) {
		return q, false
	}
	if !g.matchOptions(w, r, rep, &q, header, advanced) {
		return q, false
	}
	_, hasFilter := simkit.Query(r, "$filter")
	return q, g.orderOption(w, r, rep, &q, hasFilter && !advanced)
}

// countOption reads $count (true or false); the $count segment (!collection) counts without it.
func (g *Service) countOption(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, collection bool) (countTrue, ok bool) {
	countTrue = !collection // the $count segment is the count
	if v, ok := simkit.Query(r, "$count"); ok {
		switch strings.ToLower(v) {
		case "true":
			countTrue = true
		case "false":
		default:
			g.badRequest(w, rep, "Request_BadRequest", "Invalid value '"+v+"' for query option '$count': want true or false.")
			return false, false
		}
	}
	return countTrue, true
}

// pageOptions reads $select and $top of the collection: 100 users a page by default, at most 999, 500 with
// signInActivity.
func (g *Service) pageOptions(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, q *userQuery) bool {
	sel, hasSel := simkit.Query(r, "$select")
	props, ok := g.selectUserProps(w, rep, sel, hasSel, true)
	if !ok {
		return false
	}
	q.props, q.hasSel = props, hasSel
	q.top = 100
	if v, ok := simkit.Query(r, "$top"); ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 999 {
			g.badRequest(w, rep, "Request_UnsupportedQuery", "Invalid page size specified: '"+v+"'. Must be between 1 and 999 inclusive.")
			return false
		}
		q.top = n
	}
	if slices.Contains(props, "signInActivity") {
		q.top = min(q.top, 500)
	}
	return true
}

// matchOptions compiles $filter and $search into q.match; header says whether ConsistencyLevel is eventual,
// advanced whether the advanced query parameters are all there.
func (g *Service) matchOptions(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, q *userQuery, header, advanced bool) bool {
	var preds []func(*model.User) bool
	if f, ok := simkit.Query(r, "$filter"); ok {
		p, needsAdvanced, err := userfilter.Filter(f)
		if err != nil {
			g.badRequest(w, rep, err.Code, err.Msg)
			return false
		}
		if needsAdvanced && !advanced {
			g.badRequest(w, rep, "Request_UnsupportedQuery", "Unsupported Query.")
			return false
		}
		preds = append(preds, p)
	}
	if v, ok := simkit.Query(r, "$search"); ok {
		if !header {
			g.badRequest(w, rep, "Request_UnsupportedQuery", "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'")
			return false
		}
		p, err := userfilter.Search(v)
		if err != nil {
			g.badRequest(w, rep, err.Code, err.Msg)
			return false
		}
		preds = append(preds, p)
	}
	switch len(preds) {
	case 1:
		q.match = preds[0]
	case 2:
		q.match = func(u *model.User) bool { return preds[0](u) && preds[1](u) }
	}
	return true
}

// orderOption reads $orderby: userPrincipalName or displayName, asc or desc; refuse says sorting is not allowed
// (with a $filter that is not an advanced query).
func (g *Service) orderOption(w http.ResponseWriter, r *http.Request, rep *simkit.Reply, q *userQuery, refuse bool) bool {
	o, ok := simkit.Query(r, "$orderby")
	if !ok {
		return true
	}
	fields := strings.Fields(o)
	if len(fields) == 2 {
		switch strings.ToLower(fields[1]) {
		case "asc":
		case "desc":
			q.desc = true
		default:
			fields = nil
		}
	}
	if len(fields) >= 1 && len(fields) <= 2 {
		switch strings.ToLower(fields[0]) {
		case "userprincipalname":
			q.order = orderUPN
		case "displayname":
			q.order = orderName
		}
	}
	if q.order == orderNone || refuse {
		g.badRequest(w, rep, "Request_UnsupportedQuery", "Sorting not supported for current query.")
		return false
	}
	return true
}

// userAt is the index in Tenant.Users of the p-th user in the query's order.
func (g *Service) userAt(q *userQuery, p int) int {
	n := len(g.m.Users)
	if q.desc {
		p = n - 1 - p
	}
	if q.order == orderNone {
		return p
	}
	return int(g.userOrder(q.order)[p])
}

// userOrder is the permutation of users sorted by userPrincipalName or displayName (case-insensitively, as the
// directory compares them), built once: names never change.
func (g *Service) userOrder(order int) []int32 {
	g.orderOnce[order].Do(func() {
		users := g.m.Users
		keys := make([]string, len(users))
		perm := make([]int32, len(users))
		for i := range users {
			keys[i], perm[i] = strings.ToLower(users[i].UPN), int32(i)
			if order == orderName {
				keys[i] = strings.ToLower(users[i].Name)
			}
		}
		sort.SliceStable(perm, func(a, b int) bool { return keys[perm[a]] < keys[perm[b]] })
		g.order[order] = perm
	})
	return g.order[order]
}
