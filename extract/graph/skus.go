package graph

import (
	"context"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/seatlake/seatlake/extract/pages"
	"github.com/seatlake/seatlake/internal/table"
)

type skuJSON struct {
	ID               string  `json:"id"`
	SkuID            string  `json:"skuId"`
	SkuPartNumber    *string `json:"skuPartNumber"`
	AppliesTo        *string `json:"appliesTo"`
	CapabilityStatus *string `json:"capabilityStatus"`
	ConsumedUnits    int32   `json:"consumedUnits"`
	PrepaidUnits     struct {
		Enabled   int32 `json:"enabled"`
		Warning   int32 `json:"warning"`
		Suspended int32 `json:"suspended"`
		LockedOut int32 `json:"lockedOut"`
	} `json:"prepaidUnits"`
	SubscriptionIDs []string `json:"subscriptionIds"`
	ServicePlans    []struct {
		ServicePlanID string `json:"servicePlanId"`
	} `json:"servicePlans"`
}

// SubscribedSkus reads GET /subscribedSkus into graph_subscribed_skus and returns the number of SKUs.
func (x *Extractor) SubscribedSkus(ctx context.Context, p pages.Pager, sink table.Sink) (int64, error) {
	bt := x.NewBatcher(SubscribedSkus, sink)
	defer bt.Release()
	b := bt.Builder()
	prov := x.Provenance(b)
	s := func(i int) *array.StringBuilder { return b.Field(i).(*array.StringBuilder) }
	n := func(i int) *array.Int32Builder { return b.Field(i).(*array.Int32Builder) }
	id, skuID, part, applies, status := s(3), s(4), s(5), s(6), s(7)
	consumed, enabled, warning, suspended, locked := n(8), n(9), n(10), n(11), n(12)
	subs, plans := b.Field(13).(*array.ListBuilder), b.Field(14).(*array.ListBuilder)

	read, err := pages.Rows(ctx, p, x.url("subscribedSkus", ""), "subscribedSkus", bt, func(v *skuJSON) bool {
		prov.Append()
		id.Append(v.ID)
		skuID.Append(v.SkuID)
		table.AppendString(part, v.SkuPartNumber)
		table.AppendString(applies, v.AppliesTo)
		table.AppendString(status, v.CapabilityStatus)
		consumed.Append(v.ConsumedUnits)
		enabled.Append(v.PrepaidUnits.Enabled)
		warning.Append(v.PrepaidUnits.Warning)
		suspended.Append(v.PrepaidUnits.Suspended)
		locked.Append(v.PrepaidUnits.LockedOut)
		table.AppendStrings(subs, v.SubscriptionIDs)
		plans.Append(true)
		pv := plans.ValueBuilder().(*array.StringBuilder)
		for _, sp := range v.ServicePlans {
			pv.Append(sp.ServicePlanID)
		}
		return true
	})
	if err != nil {
		return read.Rows, explain(err, "subscribed SKUs", "LicenseAssignment.Read.All (or Organization.Read.All)")
	}
	return read.Rows, bt.Flush(ctx)
}

// ReportSettings reads GET /admin/reportSettings (one row: are user names concealed in usage reports?).
func (x *Extractor) ReportSettings(ctx context.Context, p pages.Pager, sink table.Sink) (concealed bool, err error) {
	bt := x.NewBatcher(ReportSettings, sink)
	defer bt.Release()
	b := bt.Builder()
	prov := x.Provenance(b)
	col := b.Field(3).(*array.BooleanBuilder)
	var body struct {
		DisplayConcealedNames *bool `json:"displayConcealedNames"`
		// The published doc sample wraps the entity in "value"; the real service does not. Accept both.
		Value *struct {
			DisplayConcealedNames *bool `json:"displayConcealedNames"`
		} `json:"value"`
	}
	decode := func(page []byte) (string, error) {
		if err := jsonUnmarshal(page, &body); err != nil {
			return "", pages.Bad("reportSettings", err)
		}
		return "", nil
	}
	if err := p.Walk(ctx, x.url("admin/reportSettings", ""), decode); err != nil {
		return false, explain(err, "report settings", "ReportSettings.Read.All")
	}
	v := body.DisplayConcealedNames
	if v == nil && body.Value != nil {
		v = body.Value.DisplayConcealedNames
	}
	prov.Append()
	table.AppendBool(col, v)
	if err := bt.RowDone(ctx); err != nil {
		return false, err
	}
	return v != nil && *v, bt.Flush(ctx)
}
