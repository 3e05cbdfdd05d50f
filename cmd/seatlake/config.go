package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

// The config file (--config seatlake.yaml) describes a deployment: settings at the top, keyed as the flags of
// `seatlake run` (flags and environment variables win), and a tenants list, each tenant with its credentials
// reference (never a secret value), cloud, Dynamics 365 environments and history depth. Every key is checked:
// an unknown one is an error naming it (and the tenant), not ignored. See seatlake.example.yaml.

func configFlag() cli.Flag {
	return &cli.StringFlag{Name: "config", Usage: "YAML file: settings keyed as these flags, and a tenants list (see seatlake.example.yaml); flags and environment variables win", EnvVars: []string{"SEATLAKE_CONFIG"}}
}

// tenantFile is one entry of the tenants list.
type tenantFile struct {
	Name             string   `yaml:"name"`
	TenantID         string   `yaml:"tenant-id"`
	ClientID         string   `yaml:"client-id"`
	ClientSecretFile string   `yaml:"client-secret-file"`
	ClientSecretEnv  string   `yaml:"client-secret-env"`
	CertificateFile  string   `yaml:"client-certificate-file"`
	CertPasswordEnv  string   `yaml:"client-certificate-password-env"`
	FederatedFile    string   `yaml:"federated-token-file"`
	ManagedIdentity  bool     `yaml:"managed-identity"`
	Cloud            string   `yaml:"cloud"`
	AuthorityHost    string   `yaml:"authority-host"`
	GraphEndpoint    string   `yaml:"graph-endpoint"`
	Dataverse        []string `yaml:"dataverse"`
	FinOps           []string `yaml:"finops"`
	SignInHistory    string   `yaml:"signin-history"`
	DataverseHistory string   `yaml:"dataverse-history"`
	// AssetsTokenFile is this tenant's own JSM Assets import source token (one import source per tenant: a
	// completed import marks the objects absent from it as missing).
	AssetsTokenFile string `yaml:"jsm-assets-token-file"`
	// Sources are the entry's values of the registered sources' per-tenant settings.
	Sources map[string][]string `yaml:"-"`
}

// tenantKeys are the keys a tenant entry may have.
var tenantKeys = []string{"name", "tenant-id", "client-id", "client-secret-file", "client-secret-env", "client-certificate-file",
	"client-certificate-password-env", "federated-token-file", "managed-identity", "cloud", "authority-host",
	"graph-endpoint", "dataverse", "finops", "signin-history", "dataverse-history", "jsm-assets-token-file"}

// fileConfig is what the config file says beyond the flags.
type fileConfig struct {
	path    string
	tenants []tenantFile
	rules   *yaml.Node // the rules section (transform/rules.Override), applied over the default rules
	routes  []pipelines.Route
	sync    map[string]*yaml.Node // the sync section's settings per target, for `seatlake check`
	// warnings are about keys read under an older name: logged by the commands that use them (events serve,
	// config validate), not by every command reading the file (a quiet nightly run stays quiet).
	warnings []string
}

// loadConfigFile is the Before hook of a command taking --config: it sets every flag the file names and the command
// line and environment did not, and keeps the tenants list for the action.
func loadConfigFile(dst **fileConfig) cli.BeforeFunc {
	return func(c *cli.Context) error {
		path := c.String("config")
		if path == "" {
			return nil
		}
		fc, err := readConfigFile(c, path)
		if err != nil {
			return &exitError{code: exitUsage, err: fmt.Errorf("--config %s: %w", path, err)}
		}
		*dst = fc
		return nil
	}
}

func readConfigFile(c *cli.Context, path string) (*fileConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top yaml.Node
	if err := yaml.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("not YAML: %s", oneLine(err.Error()))
	}
	fc := &fileConfig{path: path}
	if len(top.Content) == 0 {
		return fc, nil
	}
	doc := top.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, errors.New("the file must be a mapping of keys to values")
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		key, val := doc.Content[i].Value, doc.Content[i+1]
		switch key {
		case "tenants":
			if fc.tenants, err = readTenants(val); err != nil {
				return nil, err
			}
		case "rules":
			if val.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("rules (line %d): want a mapping (threshold-days, product-thresholds, exclude, prices, products-file)", val.Line)
			}
			fc.rules = val
		case "sync":
			if fc.sync, err = readSyncSection(c, val); err != nil {
				return nil, err
			}
		case "events":
			if fc.routes, err = readEventsSection(c, fc, val); err != nil {
				return nil, err
			}
		}
	}
	if err := applyKeys(c, doc, "", true); err != nil {
		return nil, err
	}
	return fc, nil
}

// sectionKeys are the top-level keys that are sections, not flags.
var sectionKeys = []string{"tenants", "rules", "sync", "events"}

// readEventsSection checks the events section (the receiver's settings, keyed as `seatlake events serve` flags, and
// its routes), sets the flags when c is that command, and returns the routes.
func readEventsSection(c *cli.Context, fc *fileConfig, n *yaml.Node) ([]pipelines.Route, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("events (line %d): want a mapping (listen, public-url, commit-interval, routes, …)", n.Line)
	}
	settings := &yaml.Node{Kind: yaml.MappingNode}
	var routes []pipelines.Route
	known := []string{"routes"}
	for _, f := range eventsFlags() {
		known = append(known, f.Names()[0])
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		switch {
		case key == "routes":
			var err error
			var warnings []string
			if routes, warnings, err = readRoutes(val); err != nil {
				return nil, err
			}
			fc.warnings = append(fc.warnings, warnings...)
		case !slices.Contains(known, key):
			return nil, fmt.Errorf("unknown key \"events.%s\" (line %d)%s", key, n.Content[i].Line, pipelines.Suggest(key, known))
		default:
			settings.Content = append(settings.Content, n.Content[i], val)
		}
	}
	if c.Command.Name == "serve" {
		if err := applyKeys(c, settings, "events.", false); err != nil {
			return nil, err
		}
	} else if commandHasFlag(c.Command, "events-dir") { // check, new-endpoint: where the receiver keeps its secrets
		dir := &yaml.Node{Kind: yaml.MappingNode}
		for i := 0; i+1 < len(settings.Content); i += 2 {
			if settings.Content[i].Value == "events-dir" {
				dir.Content = append(dir.Content, settings.Content[i], settings.Content[i+1])
			}
		}
		if err := applyKeys(c, dir, "events.", false); err != nil {
			return nil, err
		}
	}
	if routes == nil {
		return nil, nil
	}
	return routes, nil
}

// commandHasFlag says whether cmd has a flag of that name.
func commandHasFlag(cmd *cli.Command, name string) bool {
	return slices.ContainsFunc(cmd.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), name) })
}

// readRoutes reads events.routes: each a mapping of conditions (business-event-id, legal-entity, environment,
// fields) and actions. The older key event-id (the column is business_event_id; event_id is another one) is still
// read, with a warning.
func readRoutes(n *yaml.Node) ([]pipelines.Route, []string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, nil, fmt.Errorf("events.routes (line %d): want a list of routes", n.Line)
	}
	keys := []string{"business-event-id", "legal-entity", "environment", "fields", "actions"}
	out := []pipelines.Route{}
	var warnings []string
	for i, rn := range n.Content {
		if rn.Kind != yaml.MappingNode {
			return nil, nil, fmt.Errorf("events.routes[%d] (line %d): want a mapping (%s)", i, rn.Line, strings.Join(keys, ", "))
		}
		var r pipelines.Route
		for k := 0; k+1 < len(rn.Content); k += 2 {
			kn, val := rn.Content[k], rn.Content[k+1]
			key := kn.Value
			if key == "event-id" {
				if slices.ContainsFunc(rn.Content, func(o *yaml.Node) bool { return o.Value == "business-event-id" }) {
					return nil, nil, fmt.Errorf("events.routes[%d]: key \"event-id\" (line %d): give business-event-id only (event-id is its older name)", i, kn.Line)
				}
				warnings = append(warnings, fmt.Sprintf("events.routes[%d]: key \"event-id\" (line %d) is the older name of business-event-id (the column business_event_id): rename it", i, kn.Line))
				key = "business-event-id"
			}
			if !slices.Contains(keys, key) {
				hint := pipelines.Suggest(key, keys)
				if hint == "" && pipelines.Suggest(key, []string{"event-id"}) != "" {
					hint = `, did you mean "business-event-id"?`
				}
				return nil, nil, fmt.Errorf("events.routes[%d]: unknown key %q (line %d)%s", i, key, kn.Line, hint)
			}
			where := fmt.Sprintf("events.routes[%d].%s", i, kn.Value)
			var err error
			switch key {
			case "business-event-id":
				r.BusinessEventID, err = scalar(where, val, "an event's BusinessEventId, e.g. BusinessEventsAlertEvent")
			case "legal-entity":
				r.LegalEntity, err = scalar(where, val, "a legal entity (DataAreaId), e.g. USMF")
			case "environment":
				r.Environment, err = scalar(where, val, "an F&O environment's name, e.g. contoso-prod")
			case "fields":
				if val.Kind != yaml.MappingNode {
					return nil, nil, fmt.Errorf("key %q (line %d): want a mapping of the event's fields to values, e.g. {TableName: UserInfo}", where, val.Line)
				}
				r.Fields = map[string]string{}
				for f := 0; f+1 < len(val.Content); f += 2 {
					name := val.Content[f].Value
					if r.Fields[name], err = scalar(where+"."+name, val.Content[f+1], "a value"); err != nil {
						return nil, nil, err
					}
				}
			case "actions":
				items := []*yaml.Node{val}
				if val.Kind == yaml.SequenceNode {
					items = val.Content
				}
				for _, a := range items {
					var v string
					if v, err = scalar(where, a, strings.Join(pipelines.RouteActions, " or ")); err != nil {
						return nil, nil, err
					}
					r.Actions = append(r.Actions, v)
				}
			}
			if err != nil {
				return nil, nil, err
			}
		}
		if len(r.Actions) == 0 {
			return nil, nil, fmt.Errorf("events.routes[%d] (line %d): no actions: want %s", i, rn.Line, strings.Join(pipelines.RouteActions, " or "))
		}
		for _, a := range r.Actions {
			if !slices.Contains(pipelines.RouteActions, a) {
				return nil, nil, fmt.Errorf("events.routes[%d] (line %d): action %q: want %s", i, rn.Line, a, strings.Join(pipelines.RouteActions, " or "))
			}
		}
		out = append(out, r)
	}
	return out, warnings, nil
}

// scalar is a value of the file that must be one value: otherwise the error names the key, its line and what is
// expected.
func scalar(key string, n *yaml.Node, want string) (string, error) {
	if n.Kind != yaml.ScalarNode {
		return "", fmt.Errorf("key %q (line %d): want %s, not a %s", key, n.Line, want, kindName(n))
	}
	return n.Value, nil
}

// kindName says what a YAML node is, as a person would.
func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "value"
}

// readSyncSection checks the sync section (one mapping per target, keyed as that `seatlake sync` subcommand's
// flags) and, when c is that subcommand, sets its flags from it.
func readSyncSection(c *cli.Context, n *yaml.Node) (map[string]*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sync (line %d): want a mapping of targets (jsm-assets, servicenow) to their settings", n.Line)
	}
	out := map[string]*yaml.Node{}
	var targets []string
	subs := map[string]*cli.Command{}
	for _, sc := range syncCommand().Subcommands {
		targets = append(targets, sc.Name)
		subs[sc.Name] = sc
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		name, val := n.Content[i].Value, n.Content[i+1]
		sub, ok := subs[name]
		if !ok {
			return nil, fmt.Errorf("sync: unknown target %q (line %d)%s", name, n.Content[i].Line, pipelines.Suggest(name, targets))
		}
		if val.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("sync.%s (line %d): want a mapping of settings", name, val.Line)
		}
		out[name] = val
		if c.Command.Name == name && len(c.Lineage()) > 2 && c.Lineage()[1].Command != nil && c.Lineage()[1].Command.Name == "sync" {
			if err := applyKeys(c, val, "sync."+name+".", false); err != nil {
				return nil, err
			}
			continue
		}
		// Another command reads the file: the keys are checked against the target's flags, not applied.
		known := map[string]bool{}
		var names []string
		for _, f := range sub.Flags {
			for _, fn := range f.Names() {
				known[fn] = true
			}
			names = append(names, f.Names()[0])
		}
		for k := 0; k+1 < len(val.Content); k += 2 {
			key := val.Content[k].Value
			if !known[key] || key == "config" || key == "help" {
				return nil, fmt.Errorf("unknown key \"sync.%s.%s\" (line %d)%s", name, key, val.Content[k].Line, pipelines.Suggest(key, names))
			}
			if isSecretKey(key) {
				return nil, fmt.Errorf("key \"sync.%s.%s\" (line %d): a secret's value never goes in the file: name a file with %s-file", name, key, val.Content[k].Line, key)
			}
		}
	}
	return out, nil
}

// isSecretKey names keys that would hold a secret's value.
func isSecretKey(key string) bool {
	return key == "client-secret" || key == "password" || key == "token" || key == "secret"
}

// applyKeys sets, from a mapping of the file, every flag of c it names that the command line and the environment
// did not; a key that names no flag is an error naming it (prefix says where it is). Top-level keys (top) may be
// sections, or settings of `seatlake run` that this command does not use.
func applyKeys(c *cli.Context, m *yaml.Node, prefix string, top bool) error {
	flags := map[string]cli.Flag{}
	var flagNames []string
	for _, f := range c.Command.Flags {
		for _, n := range f.Names() {
			flags[n] = f
		}
		if n := f.Names()[0]; n != "config" && n != "help" {
			flagNames = append(flagNames, n)
		}
	}
	if top {
		flagNames = append(flagNames, sectionKeys...)
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, val := m.Content[i].Value, m.Content[i+1]
		if top && slices.Contains(sectionKeys, key) {
			continue
		}
		f, ok := flags[key]
		if !ok && top && isRunFlag(key) {
			continue // a setting of `seatlake run` this command does not use (e.g. `seatlake marts` with the nightly file)
		}
		if isSecretKey(key) {
			return fmt.Errorf("key %q (line %d): a secret's value never goes in the file: name a file with %s-file", prefix+key, m.Content[i].Line, key)
		}
		if !ok || key == "config" || key == "help" {
			return fmt.Errorf("unknown key %q (line %d)%s", prefix+key, m.Content[i].Line, pipelines.Suggest(key, flagNames))
		}
		name := f.Names()[0]
		if c.IsSet(name) {
			continue // the command line or the environment wins
		}
		var vals []string
		switch val.Kind {
		case yaml.ScalarNode:
			vals = []string{val.Value}
		case yaml.SequenceNode:
			for _, v := range val.Content {
				if v.Kind != yaml.ScalarNode {
					return fmt.Errorf("key %q (line %d): want a list of values", prefix+key, v.Line)
				}
				vals = append(vals, v.Value)
			}
		default:
			return fmt.Errorf("key %q (line %d): want a value or a list", prefix+key, val.Line)
		}
		for _, v := range vals {
			if err := c.Set(name, v); err != nil { // the flag package says only "parse error"
				return fmt.Errorf("key %q (line %d): %q: %s", prefix+key, val.Line, v, wants(f))
			}
		}
	}
	return nil
}

func readTenants(n *yaml.Node) ([]tenantFile, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("tenants (line %d): want a list of tenants", n.Line)
	}
	var out []tenantFile
	for i, tn := range n.Content {
		label := fmt.Sprintf("tenants[%d]", i)
		if tn.Kind != yaml.MappingNode {
			return nil, fmt.Errorf("%s (line %d): want a mapping (name, tenant-id, client-id, …)", label, tn.Line)
		}
		for k := 0; k+1 < len(tn.Content); k += 2 {
			if tn.Content[k].Value == "name" {
				label = fmt.Sprintf("tenant %q", tn.Content[k+1].Value)
			}
		}
		sources := map[string][]string{}
		for k := 0; k+1 < len(tn.Content); k += 2 {
			key := tn.Content[k].Value
			known := slices.Contains(tenantKeys, key)
			if ok, list := tenantSourceKey(key); ok {
				vals, err := sourceValue(key, list, tn.Content[k+1])
				if err != nil {
					return nil, fmt.Errorf("%s: %w", label, err)
				}
				sources[key] = vals
				continue
			}
			if key == "client-secret" {
				return nil, fmt.Errorf("%s: key %q (line %d): a secret's value never goes in the file: use client-secret-file or client-secret-env", label, key, tn.Content[k].Line)
			}
			if !known {
				return nil, fmt.Errorf("%s: unknown key %q (line %d)%s", label, key, tn.Content[k].Line, pipelines.Suggest(key, allTenantKeys()))
			}
			if err := tenantValue(key, tn.Content[k+1]); err != nil {
				return nil, fmt.Errorf("%s: %w", label, err)
			}
		}
		t := tenantFile{Sources: sources}
		if err := tn.Decode(&t); err != nil {
			return nil, fmt.Errorf("%s: %s", label, oneLine(err.Error()))
		}
		out = append(out, t)
	}
	return out, nil
}

// tenantValue checks the shape of a tenant entry's value, so that decoding it cannot fail with YAML's words.
func tenantValue(key string, v *yaml.Node) error {
	switch key {
	case "dataverse", "finops":
		if v.Kind == yaml.ScalarNode && v.Tag != "!!null" {
			return fmt.Errorf("key %q (line %d): want a list of environment URLs, e.g. [https://contoso.crm.dynamics.com]", key, v.Line)
		}
		if v.Kind == yaml.SequenceNode {
			for _, u := range v.Content {
				if _, err := scalar(key, u, "an environment URL"); err != nil {
					return err
				}
			}
			return nil
		}
		if v.Kind != yaml.ScalarNode {
			return fmt.Errorf("key %q (line %d): want a list of environment URLs, not a %s", key, v.Line, kindName(v))
		}
	case "managed-identity":
		var b bool
		if _, err := scalar(key, v, "true or false"); err != nil {
			return err
		}
		if v.Decode(&b) != nil {
			return fmt.Errorf("key %q (line %d): %q: want true or false", key, v.Line, v.Value)
		}
	default:
		_, err := scalar(key, v, "a value")
		return err
	}
	return nil
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// settings checks a tenant entry as written, without reading a secret (no I/O), and returns base with the
// tenant's settings; errors name the tenant and the key. base holds what the command line says (endpoints,
// histories), which a tenant may override. credentials reads the secret after.
func (t tenantFile) settings(i int, base pipelines.Config) (pipelines.Config, error) {
	label := fmt.Sprintf("tenants[%d]", i)
	if t.Name != "" {
		label = fmt.Sprintf("tenant %q", t.Name)
	}
	cfg := base
	cfg.Name, cfg.TenantID, cfg.ClientID = t.Name, t.TenantID, t.ClientID
	cfg.Dataverse, cfg.FinOps = trimURLs(t.Dataverse), trimURLs(t.FinOps)
	cfg.Sources = base.Sources.With(t.Sources)
	cfg.ManagedIdentity = cfg.ManagedIdentity || t.ManagedIdentity
	for _, step := range []func(*pipelines.Config) *keyError{t.required, t.endpoints, t.histories, t.credentialChoice} {
		if err := step(&cfg); err != nil {
			return pipelines.Config{}, fmt.Errorf("%s: %s: %s", label, err.key, err.msg)
		}
	}
	if err := pipelines.CheckSourceValues(t.Sources); err != nil {
		return pipelines.Config{}, fmt.Errorf("%s: %w", label, err)
	}
	return cfg, nil
}

// keyError is what is wrong with one key of a tenant entry.
type keyError struct{ key, msg string }

func keyErr(key, format string, args ...any) *keyError {
	return &keyError{key, fmt.Sprintf(format, args...)}
}

// required checks the keys every tenant entry needs.
func (t tenantFile) required(*pipelines.Config) *keyError {
	switch {
	case t.Name == "":
		return keyErr("name", "missing: give each tenant a short name (used by --tenant and in the summary)")
	case t.TenantID == "":
		return keyErr("tenant-id", "missing: the Entra tenant id (a GUID) or its domain")
	case t.ClientID == "" && !t.ManagedIdentity: // a system-assigned managed identity has none to give
		return keyErr("client-id", "missing: the application (client) id of the app registration")
	}
	return nil
}

// endpoints sets the tenant's cloud, authority host and Graph endpoint, and checks every URL it names. They are
// checked here as well as by pipelines.Config.Validate, so the message names the file's key.
func (t tenantFile) endpoints(cfg *pipelines.Config) *keyError {
	if t.Cloud != "" {
		authority, graph, ok := pipelines.Cloud(t.Cloud)
		if !ok {
			return keyErr("cloud", "%q: want one of %s", t.Cloud, strings.Join(pipelines.CloudNames(), ", "))
		}
		cfg.AuthorityHost, cfg.GraphEndpoint = authority, graph
	}
	cfg.AuthorityHost = cmp.Or(t.AuthorityHost, cfg.AuthorityHost)
	cfg.GraphEndpoint = cmp.Or(t.GraphEndpoint, cfg.GraphEndpoint)
	for _, kv := range []struct {
		key  string
		urls []string
	}{{"authority-host", []string{cfg.AuthorityHost}}, {"graph-endpoint", []string{cfg.GraphEndpoint}}, {"dataverse", t.Dataverse}, {"finops", t.FinOps}} {
		for _, u := range kv.urls {
			if err := pipelines.CheckEndpoint(u); err != nil {
				return keyErr(kv.key, "%s: %v", u, err)
			}
		}
	}
	return nil
}

// histories sets the tenant's own history depths.
func (t tenantFile) histories(cfg *pipelines.Config) *keyError {
	for _, kv := range []struct {
		key string
		v   string
		dst *time.Duration
	}{{"signin-history", t.SignInHistory, &cfg.SignInHistory}, {"dataverse-history", t.DataverseHistory, &cfg.DataverseHistory}} {
		if kv.v == "" {
			continue
		}
		d, err := time.ParseDuration(kv.v)
		if err != nil {
			return keyErr(kv.key, "%q: %s", kv.v, wants(runFlag(kv.key)))
		}
		*kv.dst = d
	}
	return nil
}

// credentialChoice checks that the entry names exactly one credential.
func (t tenantFile) credentialChoice(*pipelines.Config) *keyError {
	secret := cmp.Or(t.ClientSecretFile, t.ClientSecretEnv)
	given := nonEmpty(t.CertificateFile, t.FederatedFile, secret)
	switch {
	case t.ManagedIdentity && given > 0:
		return keyErr("managed-identity", "give one credential: managed-identity, client-certificate-file, federated-token-file or a client secret")
	case t.ManagedIdentity:
	case nonEmpty(t.CertificateFile, t.FederatedFile) > 0 && given > 1:
		return keyErr("client-certificate-file", "give one credential: client-certificate-file, federated-token-file or a client secret")
	case nonEmpty(t.ClientSecretFile, t.ClientSecretEnv) == 2:
		return keyErr("client-secret-file", "give client-secret-file or client-secret-env, not both")
	case given == 0:
		return keyErr("client-secret-file", "missing: name the file holding the client secret (or client-secret-env, the variable holding it, or client-certificate-file, or federated-token-file)")
	}
	return nil
}

// nonEmpty counts the values that are not empty.
func nonEmpty(vs ...string) int {
	n := 0
	for _, v := range vs {
		if v != "" {
			n++
		}
	}
	return n
}

// credentials reads the tenant's credential (its secret file or variable, certificate or federated token file)
// into cfg, which settings returned. Its error names the key and the fix, without the tenant: what is wrong here
// is this tenant's set-up, never the file's, and the caller decides whether it stops the command.
func (t tenantFile) credentials(cfg *pipelines.Config) error {
	fail := func(key string, err error) error { return fmt.Errorf("%s: %w", key, err) }
	switch {
	case t.ManagedIdentity:
	case t.CertificateFile != "" || t.FederatedFile != "":
		sec, a, err := pipelines.Credential(cfg.ClientID, t.CertificateFile, cmp.Or(t.CertPasswordEnv, "AZURE_CLIENT_CERTIFICATE_PASSWORD"), t.FederatedFile, "", "")
		if err != nil {
			return fail(map[bool]string{true: "client-certificate-file", false: "federated-token-file"}[t.CertificateFile != ""], err)
		}
		cfg.ClientSecret, cfg.Assertion = sec, a
	case t.ClientSecretFile != "":
		sec, err := pipelines.LoadSecret("", t.ClientSecretFile)
		if err != nil {
			return fail("client-secret-file", err)
		}
		cfg.ClientSecret = sec
	case t.ClientSecretEnv != "":
		v := os.Getenv(t.ClientSecretEnv)
		if v == "" {
			return fmt.Errorf("client-secret-env: the environment variable %s is empty or not set", t.ClientSecretEnv)
		}
		cfg.ClientSecret = pipelines.Secret(strings.TrimSpace(v))
	}
	return nil
}

func trimURLs(us []string) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = strings.TrimRight(strings.TrimSpace(u), "/")
	}
	return out
}

// isRunFlag reports whether key names a flag of `seatlake run`: the config file is keyed by them.
func isRunFlag(key string) bool {
	if key == "then-sync" || key == "export" { // run's own flags beyond runFlags
		return true
	}
	for _, f := range runFlags() {
		for _, n := range f.Names() {
			if n == key {
				return true
			}
		}
	}
	return false
}
