package dataverse

import (
	"context"
	"net/url"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
)

// UserDrivenFilter selects the audit records that show a person using Dynamics: user access (64 via a
// model-driven app, 65 via web services) and record changes (1 Create, 2 Update, 3 Delete).
const UserDrivenFilter = "(action eq 64 or action eq 65 or action eq 1 or action eq 2 or action eq 3)"

const auditSelect = "auditid,createdon,action,operation,objecttypecode,_objectid_value,_userid_value,_callinguserid_value"

// AuditsURL is the first page of user-driven audit records with createdon in [from, to).
func (x *Extractor) AuditsURL(from, to time.Time) string {
	f := UserDrivenFilter + " and createdon ge " + from.UTC().Format(time.RFC3339) + " and createdon lt " + to.UTC().Format(time.RFC3339)
	return x.url("audits", "$select="+auditSelect+"&$filter="+url.PathEscape(f))
}

// OneAuditURL asks for a single audit record: the cheapest proof that the app may read audits.
func (x *Extractor) OneAuditURL() string {
	return x.url("audits", "$select=auditid&$top=1")
}

type auditJSON struct {
	ID         string  `json:"auditid"`
	CreatedOn  *string `json:"createdon"`
	Action     *int32  `json:"action"`
	Operation  *int32  `json:"operation"`
	ObjectType *string `json:"objecttypecode"`
	ObjectID   *string `json:"_objectid_value"`
	UserID     *string `json:"_userid_value"`
	Calling    *string `json:"_callinguserid_value"`
}

// AuditsResult says what one audit window produced.
type AuditsResult struct {
	Rows, Pages int64
	Rejected    int64 // records without an id or a usable createdon: not loaded, handed to Reject
}

// Audits pages the user-driven audit records with createdon in [from, to) into dataverse_audits.
func (x *Extractor) Audits(ctx context.Context, p pages.Pager, from, to time.Time, sink table.Sink) (AuditsResult, error) {
	var res AuditsResult
	bt := x.NewBatcher(Audits, sink)
	defer bt.Release()
	prov := x.provenance(bt, x.OrganizationID)
	id, otype, oid, uid, calling := bt.String("auditid"), bt.String("object_type"), bt.String("object_id"), bt.String("user_id"), bt.String("calling_user_id")
	action, op, created := bt.Int32("action"), bt.Int32("operation"), bt.Timestamp("createdon")
	n, err := pages.Rows(ctx, p, x.AuditsURL(from, to), "audits", bt, func(v *auditJSON) bool {
		var at arrow.Timestamp
		var err error
		if v.CreatedOn != nil {
			at, err = table.ParseTimestamp(*v.CreatedOn)
		}
		if v.ID == "" || v.CreatedOn == nil || err != nil {
			x.SetAsideJSON(Audits, v)
			res.Rejected++
			return false
		}
		prov()
		id.Append(v.ID)
		created.Append(at)
		table.AppendInt32(action, v.Action)
		table.AppendInt32(op, v.Operation)
		table.AppendString(uid, v.UserID)
		table.AppendString(calling, v.Calling)
		table.AppendString(otype, v.ObjectType)
		table.AppendString(oid, v.ObjectID)
		return true
	})
	res.Rows, res.Pages = n.Rows, n.Pages
	if err != nil {
		return res, x.explain(err, "audits")
	}
	return res, bt.Flush(ctx)
}
