package dataverse

import (
	"context"
	"net/url"
	"time"

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

// auditJSON is an audit record as the general decoder (goccy/go-json) reads it. The scanner builds one only for a
// record it sets aside, so what Reject receives is what it always received.
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
	d := x.newAuditDecoder(bt)
	decode := func(body []byte) (string, error) {
		next, n, rejected, err := d.decodePage(ctx, body)
		res.Rows += n
		res.Rejected += rejected
		if err != nil {
			return "", err
		}
		res.Pages++
		return next, nil
	}
	if err := p.Walk(ctx, x.AuditsURL(from, to), decode); err != nil {
		return res, x.explain(err, "audits")
	}
	return res, bt.Flush(ctx)
}
