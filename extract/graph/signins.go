package graph

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/table"
)

type signInJSON struct {
	ID                  string  `json:"id"`
	CreatedDateTime     string  `json:"createdDateTime"`
	UserID              *string `json:"userId"`
	UserPrincipalName   *string `json:"userPrincipalName"`
	AppID               *string `json:"appId"`
	AppDisplayName      *string `json:"appDisplayName"`
	ResourceID          *string `json:"resourceId"`
	ResourceDisplayName *string `json:"resourceDisplayName"`
	ClientAppUsed       *string `json:"clientAppUsed"`
	IsInteractive       *bool   `json:"isInteractive"`
	IPAddress           *string `json:"ipAddress"`
	Status              *struct {
		ErrorCode *int32 `json:"errorCode"`
	} `json:"status"`
	Location *struct {
		CountryOrRegion *string `json:"countryOrRegion"`
	} `json:"location"`
}

type signInsPage struct {
	NextLink string       `json:"@odata.nextLink"`
	Value    []signInJSON `json:"value"`
}

// SignInsResult says what one sign-in window produced.
type SignInsResult struct {
	Rows      int64
	Pages     int
	BadValues int64 // rows whose createdDateTime did not parse: kept aside (not written), counted here
}

// SignInsURL is the first page of interactive sign-ins with createdDateTime in [from, to).
func (x *Extractor) SignInsURL(from, to time.Time) string {
	f := "createdDateTime ge " + from.UTC().Format(graphTimeFilterLayout) + " and createdDateTime lt " + to.UTC().Format(graphTimeFilterLayout)
	return x.url("auditLogs/signIns", "$filter="+filterEscape(f)+"&$top="+itoa(signInsPageSize))
}

// SignIns pages GET /auditLogs/signIns for createdDateTime in [from, to) into graph_signins, batching every
// BatchRows rows into sink. It returns ErrNoPremium (wrapped) when the tenant has no Entra ID P1/P2.
func (x *Extractor) SignIns(ctx context.Context, p Pager, from, to time.Time, sink table.Sink) (SignInsResult, error) {
	var res SignInsResult
	bt := table.NewBatcher(x.alloc(), SignIns, x.BatchRows, sink)
	defer bt.Release()
	d := newSignInDecoder(x, bt)
	decode := func(body []byte) (string, error) {
		next, n, bad, err := d.decodePage(ctx, body)
		res.Rows += n
		res.BadValues += bad
		if err != nil {
			return "", err
		}
		res.Pages++
		return next, nil
	}
	if err := p.Walk(ctx, x.SignInsURL(from, to), decode); err != nil {
		return res, explain(err, "sign-ins", "AuditLog.Read.All")
	}
	if err := bt.Flush(ctx); err != nil {
		return res, err
	}
	return res, nil
}

// SignInDecoder turns sign-in page bodies into graph_signins rows. It is the production conversion path, exported
// so that the benchmark can feed it pages from files exactly as a run feeds it pages from the network.
type SignInDecoder struct {
	d *signInDecoder
}

// NewSignInDecoder returns a decoder appending to bt (a batcher of the SignIns table).
func (x *Extractor) NewSignInDecoder(bt *table.Batcher) *SignInDecoder {
	return &SignInDecoder{d: newSignInDecoder(x, bt)}
}

// Decode appends one page's sign-ins and returns the page's nextLink.
func (s *SignInDecoder) Decode(ctx context.Context, body []byte) (next string, rows int64, err error) {
	next, rows, _, err = s.d.decodePage(ctx, body)
	return next, rows, err
}

type signInDecoder struct {
	bt   *table.Batcher
	prov provenance
	page signInsPage

	id, user, upn, app, appName, res, resName, client, ip, country *array.StringBuilder
	created                                                        *array.TimestampBuilder
	interactive                                                    *array.BooleanBuilder
	errCode                                                        *array.Int32Builder
}

func newSignInDecoder(x *Extractor, bt *table.Batcher) *signInDecoder {
	b := bt.Builder()
	s := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	return &signInDecoder{
		bt:          bt,
		prov:        x.newProvenance(b),
		id:          s(3),
		created:     b.Field(4).(*array.TimestampBuilder),
		user:        s(5),
		upn:         s(6),
		app:         s(7),
		appName:     s(8),
		res:         s(9),
		resName:     s(10),
		client:      s(11),
		interactive: b.Field(12).(*array.BooleanBuilder),
		errCode:     b.Field(13).(*array.Int32Builder),
		ip:          s(14),
		country:     s(15),
	}
}

func (d *signInDecoder) decodePage(ctx context.Context, body []byte) (next string, rows, bad int64, err error) {
	d.page.NextLink, d.page.Value = "", resetSlice(d.page.Value)
	if err := jsonUnmarshal(body, &d.page); err != nil {
		return "", 0, 0, badPage("sign-ins", err)
	}
	for i := range d.page.Value {
		v := &d.page.Value[i]
		ts, perr := parseMicros(v.CreatedDateTime)
		if perr != nil || v.ID == "" {
			bad++ // an event without a time or id cannot be partitioned or deduplicated
			continue
		}
		d.prov.append()
		d.id.Append(v.ID)
		d.created.Append(ts)
		appendStr(d.user, v.UserID)
		appendStr(d.upn, v.UserPrincipalName)
		appendStr(d.app, v.AppID)
		appendStr(d.appName, v.AppDisplayName)
		appendStr(d.res, v.ResourceID)
		appendStr(d.resName, v.ResourceDisplayName)
		appendStr(d.client, v.ClientAppUsed)
		appendBool(d.interactive, v.IsInteractive)
		if v.Status != nil && v.Status.ErrorCode != nil {
			d.errCode.Append(*v.Status.ErrorCode)
		} else {
			d.errCode.AppendNull()
		}
		appendStr(d.ip, v.IPAddress)
		if v.Location != nil {
			appendStr(d.country, v.Location.CountryOrRegion)
		} else {
			d.country.AppendNull()
		}
		rows++
		if err := d.bt.RowDone(ctx); err != nil {
			return "", rows, bad, err
		}
	}
	return d.page.NextLink, rows, bad, nil
}
