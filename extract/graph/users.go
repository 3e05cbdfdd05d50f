package graph

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/msgraph"
	"github.com/seatlake/seatlake/internal/table"
)

// UsersResult says what the users stream produced.
type UsersResult struct {
	Users, Licenses int64
	// SignInActivity is false when the tenant has no Entra ID P1/P2 and users were read without signInActivity.
	SignInActivity bool
	Pages          int
	// BadValues counts values that did not parse (stored as null).
	BadValues int64
	// Groups are the ids of the groups that assign licenses (licenseAssignmentStates.assignedByGroup), sorted, each
	// once: what the groups stream reads the names of.
	Groups []string
}

// Users pages GET /users into graph_users and graph_user_licenses. With withActivity it selects signInActivity;
// when Graph refuses that for lack of Entra ID P1/P2, it reads the users again without it and says so in the result.
func (x *Extractor) Users(ctx context.Context, p pages.Pager, withActivity bool, users, licenses table.Sink) (UsersResult, error) {
	if withActivity {
		res, err := x.users(ctx, p, true, users, licenses)
		if err == nil || !isNoPremium(err) || res.Users > 0 {
			if err != nil {
				return res, explain(err, "users with signInActivity", "User.Read.All and AuditLog.Read.All")
			}
			return res, nil
		}
		x.Log().Warn("tenant has no Entra ID P1/P2: reading users without signInActivity", "stream", Users.Name)
	}
	res, err := x.users(ctx, p, false, users, licenses)
	if err != nil {
		return res, explain(err, "users", "User.Read.All")
	}
	return res, nil
}

func (x *Extractor) users(ctx context.Context, p pages.Pager, withActivity bool, usersSink, licSink table.Sink) (UsersResult, error) {
	res := UsersResult{SignInActivity: withActivity}
	ub := x.NewBatcher(Users, usersSink)
	defer ub.Release()
	lb := x.NewBatcher(UserLicenses, licSink)
	defer lb.Release()

	u := ub.Builder()
	up := x.Provenance(u)
	var (
		id        = u.Field(3).(*array.StringBuilder)
		upn       = u.Field(4).(*array.StringBuilder)
		display   = u.Field(5).(*array.StringBuilder)
		mail      = u.Field(6).(*array.StringBuilder)
		given     = u.Field(7).(*array.StringBuilder)
		surname   = u.Field(8).(*array.StringBuilder)
		enabled   = u.Field(9).(*array.BooleanBuilder)
		userType  = u.Field(10).(*array.StringBuilder)
		created   = u.Field(11).(*array.TimestampBuilder)
		dept      = u.Field(12).(*array.StringBuilder)
		job       = u.Field(13).(*array.StringBuilder)
		lastSign  = u.Field(14).(*array.TimestampBuilder)
		lastNonI  = u.Field(15).(*array.TimestampBuilder)
		lastSucc  = u.Field(16).(*array.TimestampBuilder)
		available = u.Field(17).(*array.BooleanBuilder)
		licCount  = u.Field(18).(*array.Int32Builder)
	)
	l := lb.Builder()
	lp := x.Provenance(l)
	var (
		lUser     = l.Field(3).(*array.StringBuilder)
		lUPN      = l.Field(4).(*array.StringBuilder)
		lSku      = l.Field(5).(*array.StringBuilder)
		lDisabled = l.Field(6).(*array.ListBuilder)
		lGroup    = lb.String("assigned_by_group")
		lState    = lb.String("assignment_state")
		lAssigned = lb.Timestamp("assigned_at")
	)

	sel, top := userSelect, usersPageSize
	if withActivity {
		sel, top = userSelectWithActivity, usersActivityPageSize
	}
	first := x.url("users", "$select="+sel+"&$top="+itoa(top))
	groups := map[string]bool{}
	var page msgraph.UsersPage
	decode := func(body []byte) (string, error) {
		page.NextLink, page.Value = "", table.ResetSlice(page.Value)
		if err := page.Decode(body); err != nil {
			return "", pages.Bad("users", err)
		}
		// Check the page before appending anything, so a bad page appends nothing.
		for i := range page.Value {
			v := &page.Value[i]
			if v.ID == "" {
				return "", pages.Bad("users", fmt.Errorf("user %d has no id", i))
			}
		}
		for i := range page.Value {
			v := &page.Value[i]
			up.Append()
			id.Append(v.ID)
			table.AppendString(upn, v.UserPrincipalName)
			table.AppendString(display, v.DisplayName)
			table.AppendString(mail, v.Mail)
			table.AppendString(given, v.GivenName)
			table.AppendString(surname, v.Surname)
			table.AppendBool(enabled, v.AccountEnabled)
			table.AppendString(userType, v.UserType)
			table.AppendTime(created, v.CreatedDateTime, &res.BadValues)
			table.AppendString(dept, v.Department)
			table.AppendString(job, v.JobTitle)
			if a := v.SignInActivity; a != nil {
				appendActivityTime(lastSign, a.LastSignInDateTime, &res.BadValues)
				appendActivityTime(lastNonI, a.LastNonInteractiveSignInDateTime, &res.BadValues)
				appendActivityTime(lastSucc, a.LastSuccessfulSignInDateTime, &res.BadValues)
			} else {
				lastSign.AppendNull()
				lastNonI.AppendNull()
				lastSucc.AppendNull()
			}
			available.Append(withActivity)
			licCount.Append(int32(len(v.AssignedLicenses)))
			if err := ub.RowDone(ctx); err != nil {
				return "", err
			}
			res.Users++
			for _, st := range v.LicenseAssignmentStates {
				if st.AssignedByGroup != nil && *st.AssignedByGroup != "" {
					groups[strings.ToLower(*st.AssignedByGroup)] = true
				}
			}
			for _, al := range v.AssignedLicenses {
				lp.Append()
				lUser.Append(v.ID)
				table.AppendString(lUPN, v.UserPrincipalName)
				lSku.Append(al.SkuID)
				table.AppendStrings(lDisabled, al.DisabledPlans)
				appendAssignment(v, al.SkuID, lGroup, lState, lAssigned, &res.BadValues)
				if err := lb.RowDone(ctx); err != nil {
					return "", err
				}
				res.Licenses++
			}
		}
		res.Pages++
		return page.NextLink, nil
	}
	if err := p.Walk(ctx, first, decode); err != nil {
		return res, err
	}
	res.Groups = slices.Sorted(maps.Keys(groups))
	if err := ub.Flush(ctx); err != nil {
		return res, err
	}
	if err := lb.Flush(ctx); err != nil {
		return res, err
	}
	x.Log().Debug("users read", "users", res.Users, "licenses", res.Licenses, "pages", res.Pages)
	return res, nil
}

// appendActivityTime appends a signInActivity time, null when it says there was none (msgraph.NoSignIn).
func appendActivityTime(b *array.TimestampBuilder, v *string, bad *int64) {
	if msgraph.NoSignIn(v) {
		b.AppendNull()
		return
	}
	table.AppendTime(b, v, bad)
}

// appendAssignment appends what licenseAssignmentStates says of the user's license of skuID: the groups it is
// inherited from (null when any assignment is direct: removing the user from a group would not free it), the state
// and the oldest update time.
func appendAssignment(v *msgraph.User, skuID string, group, state *array.StringBuilder, at *array.TimestampBuilder, bad *int64) {
	a := v.Assignment(skuID)
	if !a.Found {
		group.AppendNull()
		state.AppendNull()
		at.AppendNull()
		return
	}
	if a.Direct || len(a.Groups) == 0 {
		group.AppendNull()
	} else {
		group.Append(strings.Join(a.Groups, ","))
	}
	table.AppendString(state, a.State)
	table.AppendTime(at, a.Updated, bad)
}
