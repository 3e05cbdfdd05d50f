package graphsim

import (
	"net/http"
	"strconv"

	"github.com/seatlake/seatlake/internal/tenantsim/ids"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// subscribedSkus is GET /v1.0/subscribedSkus (reference §2b): one small, unpaged list; only $select is supported
// by Graph, and ignored here (the whole entity is returned).
func (g *Service) subscribedSkus(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if !g.queryOptions(w, r, rep, "$select") {
		return
	}
	m := g.m
	account := ids.GUID(ids.Hash(g.m.Seed, 50), ids.Hash(g.m.Seed, 51))
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#subscribedSkus","value":[`...)
	for i := range m.SKUs {
		k := &m.SKUs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"accountName":`...)
		b = appendRaw(b, m.OrgName)
		b = append(b, `,"accountId":`...)
		b = appendRaw(b, account)
		b = append(b, `,"appliesTo":"User","capabilityStatus":`...)
		b = appendRaw(b, k.Status)
		b = append(b, `,"consumedUnits":`...)
		b = strconv.AppendInt(b, int64(k.Consumed), 10)
		b = append(b, `,"id":"`...)
		b = append(b, g.m.TenantID...)
		b = append(b, '_')
		b = append(b, k.Def.ID...)
		b = append(b, `","prepaidUnits":{"enabled":`...)
		b = strconv.AppendInt(b, int64(k.Enabled), 10)
		b = append(b, `,"lockedOut":`...)
		b = strconv.AppendInt(b, int64(k.LockedOut), 10)
		b = append(b, `,"suspended":`...)
		b = strconv.AppendInt(b, int64(k.Suspended), 10)
		b = append(b, `,"warning":`...)
		b = strconv.AppendInt(b, int64(k.Warning), 10)
		b = append(b, `},"servicePlans":[`...)
		for j, p := range k.Def.Plans {
			if j > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"servicePlanId":"`...)
			b = append(b, p.ID...)
			b = append(b, `","servicePlanName":"`...)
			b = append(b, p.Name...)
			b = append(b, `","provisioningStatus":"Success","appliesTo":"User"}`...)
		}
		b = append(b, `],"skuId":"`...)
		b = append(b, k.Def.ID...)
		b = append(b, `","skuPartNumber":"`...)
		b = append(b, k.Def.Part...)
		b = append(b, `","subscriptionIds":["`...)
		b = ids.AppendGUID(b, ids.Hash(g.m.Seed, 60, uint64(i)), ids.Hash(g.m.Seed, 61, uint64(i)))
		b = append(b, `"]}`...)
	}
	rep.B = append(b, "]}"...)
}

// reportSettings is GET /v1.0/admin/reportSettings in the shape the service really returns (reference §2d).
func (g *Service) reportSettings(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	if !g.queryOptions(w, r, rep, "$select") {
		return
	}
	b := append(rep.B, `{"@odata.context":"`...)
	b = append(b, simkit.BaseURL(r)...)
	b = append(b, `/v1.0/$metadata#admin/reportSettings/$entity","displayConcealedNames":`...)
	b = strconv.AppendBool(b, g.m.ConcealedNames)
	rep.B = append(b, '}')
}
