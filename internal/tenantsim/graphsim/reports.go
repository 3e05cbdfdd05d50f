package graphsim

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/seatlake/seatlake/internal/tenantsim/model"
	"github.com/seatlake/seatlake/internal/tenantsim/simkit"
)

// The Microsoft 365 usage reports (reference §2d): GET /v1.0/reports/getOffice365ActiveUserDetail(period='D30')
// answers 302 with a pre-authenticated download URL, valid a few minutes, that serves a CSV (with a UTF-8 BOM) and
// takes no Authorization header. When reportSettings.displayConcealedNames is on, user principal names and display
// names are 32-hex hashes.

const tokReport = 'r'

// ReportHeader is the CSV header of getOffice365ActiveUserDetail, as documented.
const ReportHeader = "Report Refresh Date,User Principal Name,Display Name,Is Deleted,Deleted Date,Has Exchange License," +
	"Has OneDrive License,Has SharePoint License,Has Skype For Business License,Has Yammer License,Has Teams License," +
	"Exchange Last Activity Date,OneDrive Last Activity Date,SharePoint Last Activity Date," +
	"Skype For Business Last Activity Date,Yammer Last Activity Date,Teams Last Activity Date," +
	"Exchange License Assign Date,OneDrive License Assign Date,SharePoint License Assign Date," +
	"Skype For Business License Assign Date,Yammer License Assign Date,Teams License Assign Date,Assigned Products"

// productNames are the names the Assigned Products column uses.
var productNames = map[uint8]string{
	model.SKUO365E3: "OFFICE 365 E3", model.SKUO365E5: "OFFICE 365 E5", model.SKUM365E3: "MICROSOFT 365 E3", model.SKUM365E5: "MICROSOFT 365 E5",
	model.SKUSales: "DYNAMICS 365 SALES ENTERPRISE EDITION", model.SKUService: "DYNAMICS 365 CUSTOMER SERVICE ENTERPRISE EDITION",
	model.SKUTeamMembers: "DYNAMICS 365 TEAM MEMBERS", model.SKUOps: "DYNAMICS 365 UNF OPS PLAN ENT EDITION",
	model.SKUPowerApps: "POWER APPS PREMIUM", model.SKUEntraP1: "MICROSOFT ENTRA ID P1", model.SKUFlowFree: "MICROSOFT POWER AUTOMATE FREE",
	model.SKUCRMLegacy: "MICROSOFT DYNAMICS CRM ONLINE",
}

// usageReport is GET /v1.0/reports/{function}: only getOffice365ActiveUserDetail with a period.
func (g *Service) usageReport(w http.ResponseWriter, r *http.Request, rep *simkit.Reply) {
	fn := r.PathValue("function")
	name, arg, ok := strings.Cut(fn, "(")
	if !ok || name != "getOffice365ActiveUserDetail" || !strings.HasSuffix(arg, ")") {
		g.graphError(rep, http.StatusBadRequest, "BadRequest", "Resource not found for the segment '"+fn+"'.", w.Header().Get("request-id"))
		return
	}
	arg = strings.TrimSuffix(arg, ")")
	switch arg {
	case "period='D7'", "period='D30'", "period='D90'", "period='D180'":
	default:
		g.graphError(rep, http.StatusBadRequest, "BadRequest", "Invalid value for the period parameter: "+arg+". Use D7, D30, D90 or D180.", w.Header().Get("request-id"))
		return
	}
	tok := g.kit.SealToken(tokReport, time.Now().Add(5*time.Minute).Unix())
	w.Header().Set("Location", simkit.BaseURL(r)+"/_sim/reports/"+tok+"/Office365ActiveUserDetail.csv")
	rep.Status = http.StatusFound
	rep.ContentType = "text/plain"
}

// reportDownload serves the CSV behind the 302: no token needed, the URL is the credential, and it expires.
func (g *Service) reportDownload(w http.ResponseWriter, r *http.Request) {
	vals, ok := g.kit.OpenToken(tokReport, r.PathValue("token"), 1)
	if !ok || time.Now().Unix() > vals[0] {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		w.Write([]byte(`<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Signature not valid in the specified time frame</Message></Error>`))
		return
	}
	b := g.renderUsageReport()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
	g.kit.Count("reportDownload", http.StatusOK)
}

func (g *Service) renderUsageReport() []byte {
	m := g.m
	b := []byte("\ufeff" + ReportHeader + "\r\n")
	refresh := m.Anchor/model.MicrosPerDay - model.ReportLagDays
	day := func(b []byte, d int64) []byte {
		if d < 0 {
			return b
		}
		return time.Unix(d*86400, 0).UTC().AppendFormat(b, "2006-01-02")
	}
	for i := range m.Users {
		u := &m.Users[i]
		if u.Guest || !u.HasSuite() {
			continue
		}
		b = day(b, refresh)
		b = append(b, ',')
		if g.m.ConcealedNames {
			h := m.ConcealedName(i)
			b = append(b, h...)
			b = append(b, ',')
			b = append(b, h...)
		} else {
			b = append(b, u.UPN...)
			b = append(b, ',')
			b = appendCSV(b, u.Name)
		}
		b = append(b, ",False,,True,True,True,True,False,True,"...)
		d := m.UsageOf(i)
		b = day(b, d.Exchange)
		b = append(b, ',')
		b = day(b, d.OneDrive)
		b = append(b, ',')
		b = day(b, d.SharePoint)
		b = append(b, ",,,"...)
		b = day(b, d.Teams)
		var assigned int64
		var products []string
		for _, l := range u.Licenses {
			if model.SuiteSKU(l.SKU) {
				assigned = l.Assigned / model.MicrosPerDay
			}
			products = append(products, productNames[l.SKU])
		}
		for w := 0; w < 6; w++ {
			b = append(b, ',')
			if w != 4 { // no Yammer license
				b = day(b, assigned)
			}
		}
		b = append(b, ',')
		b = appendCSV(b, strings.Join(products, "+"))
		b = append(b, "\r\n"...)
	}
	return b
}

// appendCSV writes a CSV field, quoted when it holds a comma, a quote or a line break.
func appendCSV(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\r\n") {
		return append(b, s...)
	}
	b = append(b, '"')
	b = append(b, strings.ReplaceAll(s, `"`, `""`)...)
	return append(b, '"')
}
