package msauth

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Cloud is a Microsoft cloud's identity platform and Graph endpoint (Microsoft's "National cloud deployments" and
// "Microsoft Entra authentication endpoints" tables). Dataverse and F&O need no entry: their environment URLs name
// their cloud, and their token scope is the environment URL + /.default.
type Cloud struct {
	AuthorityHost string
	GraphEndpoint string
}

// Clouds are the clouds a config file may name. GCC (usgov) runs on the public endpoints; GCC High and DoD on the
// US Government ones; China is operated by 21Vianet. Hosts from "Microsoft Graph national cloud deployments"; China's
// authority is the one that page and the Azure SDK (azcore/cloud) name, see also chinaPartnerAuthority.
var Clouds = map[string]Cloud{
	"public":     {"https://login.microsoftonline.com", "https://graph.microsoft.com"},
	"usgov":      {"https://login.microsoftonline.com", "https://graph.microsoft.com"},
	"usgov-high": {"https://login.microsoftonline.us", "https://graph.microsoft.us"},
	"dod":        {"https://login.microsoftonline.us", "https://dod-graph.microsoft.us"},
	"china":      {"https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"},
}

// chinaPartnerAuthority is the host the identity platform's own "National clouds" page gives for China; the Graph
// page and the Azure SDK give login.chinacloudapi.cn. Both are accepted as Microsoft's.
const chinaPartnerAuthority = "login.partner.microsoftonline.cn"

// CloudNames lists the clouds' names, sorted.
func CloudNames() []string {
	var ns []string
	for n := range Clouds {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

// CheckAuthorityHost accepts the identity platform hosts Microsoft documents for its clouds, and loopback (the
// simulator, tests); any other host needs to be listed in allowed, since the client secret is sent to it.
func CheckAuthorityHost(raw string, allowed []string) error {
	if err := CheckEndpoint(raw); err != nil {
		return err
	}
	u, _ := url.Parse(raw)
	host := strings.ToLower(u.Hostname())
	if isLoopback(host) || host == chinaPartnerAuthority {
		return nil
	}
	for _, c := range Clouds {
		if cu, err := url.Parse(c.AuthorityHost); err == nil && strings.EqualFold(cu.Hostname(), host) {
			return nil
		}
	}
	for _, a := range allowed {
		if strings.EqualFold(strings.TrimSpace(a), host) {
			return nil
		}
	}
	return fmt.Errorf("authority host %s is not one of Microsoft's identity platform hosts (%s): the client secret would be sent there; if it is right (a proxy, a sovereign cloud), allow it with --allow-authority-host %s",
		raw, strings.Join(knownAuthorityHosts(), ", "), host)
}

func knownAuthorityHosts() []string {
	seen := map[string]bool{}
	out := []string{chinaPartnerAuthority}
	for _, c := range Clouds {
		if u, err := url.Parse(c.AuthorityHost); err == nil && !seen[u.Host] {
			seen[u.Host] = true
			out = append(out, u.Host)
		}
	}
	sort.Strings(out)
	return out
}
