package msauth

import "sort"

// Cloud is a Microsoft cloud's identity platform and Graph endpoint (Microsoft's "National cloud deployments" and
// "Microsoft Entra authentication endpoints" tables). Dataverse and F&O need no entry: their environment URLs name
// their cloud, and their token scope is the environment URL + /.default.
type Cloud struct {
	AuthorityHost string
	GraphEndpoint string
}

// Clouds are the clouds a config file may name. GCC (usgov) runs on the public endpoints; GCC High and DoD on the
// US Government ones; China is operated by 21Vianet.
var Clouds = map[string]Cloud{
	"public":     {"https://login.microsoftonline.com", "https://graph.microsoft.com"},
	"usgov":      {"https://login.microsoftonline.com", "https://graph.microsoft.com"},
	"usgov-high": {"https://login.microsoftonline.us", "https://graph.microsoft.us"},
	"dod":        {"https://login.microsoftonline.us", "https://dod-graph.microsoft.us"},
	"china":      {"https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"},
}

// CloudNames lists the clouds' names, sorted.
func CloudNames() []string {
	var ns []string
	for n := range Clouds {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}
