package graph

import (
	"context"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/jsonscan"
	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
)

// SignInsResult says what one sign-in window produced.
type SignInsResult struct {
	Rows      int64
	Pages     int
	BadValues int64 // rows without an id or a parsable createdDateTime: not loaded, handed to Extractor.Reject
}

// SignInsURL is the first page of interactive sign-ins with createdDateTime in [from, to). The signIn resource
// documents eq, le and ge for createdDateTime (not lt), so the window ends with le the last tick (100 ns, the
// precision of Graph's times) before to.
func (x *Extractor) SignInsURL(from, to time.Time) string {
	f := "createdDateTime ge " + from.UTC().Format(graphTimeFilterLayout) + " and createdDateTime le " + to.Add(-graphTick).UTC().Format(graphTimeFilterLayout)
	return x.url("auditLogs/signIns", "$filter="+filterEscape(f)+"&$top="+itoa(signInsPageSize))
}

// SignIns pages GET /auditLogs/signIns for createdDateTime in [from, to) into graph_signins, batching every
// BatchRows rows into sink. It returns ErrNoPremium (wrapped) when the tenant has no Entra ID P1/P2.
func (x *Extractor) SignIns(ctx context.Context, p pages.Pager, from, to time.Time, sink table.Sink) (SignInsResult, error) {
	var res SignInsResult
	bt := x.NewBatcher(SignIns, sink)
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
	reject func(raw []byte)
	bt     *table.Batcher
	prov   table.Provenance
	rows   []signInRef // reused: one page of references into the body
	tmp    []byte      // scratch for unescaping

	id, user, upn, app, appName, res, resName, client, ip, country *array.StringBuilder
	created                                                        *array.TimestampBuilder
	interactive                                                    *array.BooleanBuilder
	errCode                                                        *array.Int32Builder
}

// signInRef holds one sign-in's fields as sub-slices of the page body.
type signInRef struct {
	id, created, user, upn, app, appName, res, resName, client, ip, country jsonscan.Field
	raw                                                                     []byte // the whole object, for rejects
	interactive, hasInteractive                                             bool
	errCode                                                                 int32
	hasErrCode                                                              bool
}

func newSignInDecoder(x *Extractor, bt *table.Batcher) *signInDecoder {
	b := bt.Builder()
	s := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	return &signInDecoder{
		reject:      func(raw []byte) { x.SetAside(SignIns, raw) },
		bt:          bt,
		prov:        x.Provenance(b),
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

// decodePage scans the whole page first and appends only if it parsed, so a truncated page appends nothing.
func (d *signInDecoder) decodePage(ctx context.Context, body []byte) (next string, rows, bad int64, err error) {
	nextRaw, err := d.scanPage(body)
	if err != nil {
		return "", 0, 0, pages.Bad("sign-ins", err)
	}
	for i := range d.rows {
		r := &d.rows[i]
		if !r.id.Set || !r.created.Set {
			bad++ // an event without an id or a time cannot be deduplicated or partitioned
			d.reject(r.raw)
			continue
		}
		created := r.created.Raw
		if r.created.Escaped {
			var uerr error
			if d.tmp, uerr = jsonscan.Unescape(d.tmp[:0], created); uerr != nil {
				bad++
				d.reject(r.raw)
				continue
			}
			created = d.tmp
		}
		ts, perr := table.ParseTimestamp(created)
		if perr != nil {
			bad++
			d.reject(r.raw)
			continue
		}
		d.prov.Append()
		d.str(d.id, r.id)
		d.created.Append(ts)
		d.str(d.user, r.user)
		d.str(d.upn, r.upn)
		d.str(d.app, r.app)
		d.str(d.appName, r.appName)
		d.str(d.res, r.res)
		d.str(d.resName, r.resName)
		d.str(d.client, r.client)
		if r.hasInteractive {
			d.interactive.Append(r.interactive)
		} else {
			d.interactive.AppendNull()
		}
		if r.hasErrCode {
			d.errCode.Append(r.errCode)
		} else {
			d.errCode.AppendNull()
		}
		d.str(d.ip, r.ip)
		d.str(d.country, r.country)
		rows++
		if err := d.bt.RowDone(ctx); err != nil {
			return "", rows, bad, err
		}
	}
	if nextRaw.Set {
		d.tmp = d.tmp[:0]
		if nextRaw.Escaped {
			if d.tmp, err = jsonscan.Unescape(d.tmp, nextRaw.Raw); err != nil {
				return "", rows, bad, pages.Bad("sign-ins", err)
			}
			return string(d.tmp), rows, bad, nil
		}
		return string(nextRaw.Raw), rows, bad, nil
	}
	return "", rows, bad, nil
}

func (d *signInDecoder) str(b *array.StringBuilder, f jsonscan.Field) {
	switch {
	case !f.Set:
		b.AppendNull()
	case f.Escaped:
		var err error
		d.tmp, err = jsonscan.Unescape(d.tmp[:0], f.Raw)
		if err != nil {
			b.AppendNull() // scanPage already accepted the string; a bad escape degrades to null
			return
		}
		b.BinaryBuilder.Append(d.tmp)
	default:
		b.BinaryBuilder.Append(f.Raw)
	}
}

// scanPage fills d.rows with the page's sign-ins and returns the nextLink.
func (d *signInDecoder) scanPage(body []byte) (jsonscan.Field, error) {
	d.rows = d.rows[:0]
	var next jsonscan.Field
	sc := jsonscan.New(body)
	err := sc.Object(func(key []byte) error {
		switch string(key) {
		case "@odata.nextLink":
			return sc.StrOrNull(&next)
		case "value":
			return sc.Array(func() error {
				d.rows = append(d.rows, signInRef{})
				r := &d.rows[len(d.rows)-1]
				sc.Peek()
				start := sc.Pos()
				err := d.scanSignIn(&sc, r)
				r.raw = body[start:sc.Pos()]
				return err
			})
		}
		return sc.Skip()
	})
	if err == nil {
		err = sc.End()
	}
	return next, err
}

func (d *signInDecoder) scanSignIn(sc *jsonscan.Scanner, r *signInRef) error {
	return sc.Object(func(key []byte) error {
		switch string(key) {
		case "id":
			return sc.StrOrNull(&r.id)
		case "createdDateTime":
			return sc.StrOrNull(&r.created)
		case "userId":
			return sc.StrOrNull(&r.user)
		case "userPrincipalName":
			return sc.StrOrNull(&r.upn)
		case "appId":
			return sc.StrOrNull(&r.app)
		case "appDisplayName":
			return sc.StrOrNull(&r.appName)
		case "resourceId":
			return sc.StrOrNull(&r.res)
		case "resourceDisplayName":
			return sc.StrOrNull(&r.resName)
		case "clientAppUsed":
			return sc.StrOrNull(&r.client)
		case "ipAddress":
			return sc.StrOrNull(&r.ip)
		case "isInteractive":
			switch {
			case sc.Literal("true"):
				r.interactive, r.hasInteractive = true, true
			case sc.Literal("false"):
				r.interactive, r.hasInteractive = false, true
			default:
				return sc.Skip()
			}
			return nil
		case "status":
			if sc.Peek() != '{' {
				return sc.Skip()
			}
			return sc.Object(func(k []byte) error {
				if string(k) != "errorCode" || sc.Peek() == 'n' {
					return sc.Skip()
				}
				num, err := sc.Number()
				if err != nil {
					return err
				}
				v, ok := jsonscan.Atoi32(num)
				if !ok {
					return jsonscan.ErrSyntax
				}
				r.errCode, r.hasErrCode = v, true
				return nil
			})
		case "location":
			if sc.Peek() != '{' {
				return sc.Skip()
			}
			return sc.Object(func(k []byte) error {
				if string(k) == "countryOrRegion" {
					return sc.StrOrNull(&r.country)
				}
				return sc.Skip()
			})
		}
		return sc.Skip()
	})
}
