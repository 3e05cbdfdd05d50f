package main

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

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
	Name             string `yaml:"name"`
	TenantID         string `yaml:"tenant-id"`
	ClientID         string `yaml:"client-id"`
	ClientSecretFile string `yaml:"client-secret-file"`
	ClientSecretEnv  string `yaml:"client-secret-env"`
	CertificateFile  string `yaml:"client-certificate-file"`
	CertPasswordEnv  string `yaml:"client-certificate-password-env"`
	FederatedFile    string `yaml:"federated-token-file"`
	ManagedIdentity  bool   `yaml:"managed-identity"`
	Cloud            string `yaml:"cloud"`
	AuthorityHost    string `yaml:"authority-host"`
	GraphEndpoint    string `yaml:"graph-endpoint"`
	// Sources are the entry's values of the registered sources' and sync targets' per-tenant settings (its sign-in
	// history, its Dataverse and F&O environments, its own Assets import source token file, …), by the settings'
	// keys.
	Sources map[string][]string `yaml:"-"`
}

// tenantKeys are the keys a tenant entry may have.
var tenantKeys = []string{"name", "tenant-id", "client-id", "client-secret-file", "client-secret-env", "client-certificate-file",
	"client-certificate-password-env", "federated-token-file", "managed-identity", "cloud", "authority-host",
	"graph-endpoint"}

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
	doc, err := readConfigDoc(path)
	if err != nil {
		return nil, err
	}
	fc := &fileConfig{path: path}
	if doc == nil {
		return fc, nil
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if err := fc.readSection(c, doc.Content[i].Value, doc.Content[i+1]); err != nil {
			return nil, err
		}
	}
	if err := applyKeys(c, doc, "", true); err != nil {
		return nil, err
	}
	return fc, nil
}

// readConfigDoc reads the file's top-level mapping; nil for an empty file.
func readConfigDoc(path string) (*yaml.Node, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var top yaml.Node
	if err := yaml.Unmarshal(raw, &top); err != nil {
		return nil, fmt.Errorf("not YAML: %s", oneLine(err.Error()))
	}
	if len(top.Content) == 0 {
		return nil, nil
	}
	doc := top.Content[0]
	if doc.Kind != yaml.MappingNode {
		return nil, errors.New("the file must be a mapping of keys to values")
	}
	return doc, nil
}

// sectionKeys are the top-level keys that are sections, not flags.
var sectionKeys = []string{"tenants", "rules", "sync", "events"}

// readSection reads the top-level key when it is a section (sectionKeys); the other keys are settings, applied
// once every section is read.
func (fc *fileConfig) readSection(c *cli.Context, key string, val *yaml.Node) error {
	var err error
	switch key {
	case "tenants":
		fc.tenants, err = readTenants(val)
	case "rules":
		fc.rules, err = rulesSection(val)
	case "sync":
		fc.sync, err = readSyncSection(c, val)
	case "events":
		fc.routes, err = readEventsSection(c, fc, val)
	}
	return err
}

// rulesSection checks the rules section's shape; its keys are transform/rules' to check, when they are applied.
func rulesSection(n *yaml.Node) (*yaml.Node, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("rules (line %d): want a mapping (threshold-days, product-thresholds, exclude, prices, products-file)", n.Line)
	}
	return n, nil
}

// readEventsSection checks the events section (the receiver's settings, keyed as `seatlake events serve` flags, and
// its routes), sets the flags when c is that command, and returns the routes.
func readEventsSection(c *cli.Context, fc *fileConfig, n *yaml.Node) ([]pipelines.Route, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("events (line %d): want a mapping (listen, public-url, commit-interval, routes, …)", n.Line)
	}
	settings, routes, err := fc.readEventsEntries(n)
	if err != nil {
		return nil, err
	}
	if err := applyEventsSettings(c, settings); err != nil {
		return nil, err
	}
	return routes, nil
}

// readEventsEntries reads the events section's routes (keeping their warnings) and returns the other keys, the
// receiver's settings, as a mapping of their own; a key that is neither is an error.
func (fc *fileConfig) readEventsEntries(n *yaml.Node) (*yaml.Node, []pipelines.Route, error) {
	known := []string{"routes"}
	for _, f := range eventsFlags() {
		known = append(known, f.Names()[0])
	}
	settings := &yaml.Node{Kind: yaml.MappingNode}
	var routes []pipelines.Route
	for i := 0; i+1 < len(n.Content); i += 2 {
		key, val := n.Content[i].Value, n.Content[i+1]
		switch {
		case key == "routes":
			var warnings []string
			var err error
			if routes, warnings, err = readRoutes(val); err != nil {
				return nil, nil, err
			}
			fc.warnings = append(fc.warnings, warnings...)
		case !slices.Contains(known, key):
			return nil, nil, fmt.Errorf("unknown key \"events.%s\" (line %d)%s", key, n.Content[i].Line, pipelines.Suggest(key, known))
		default:
			settings.Content = append(settings.Content, n.Content[i], val)
		}
	}
	return settings, routes, nil
}

// applyEventsSettings sets the receiver's flags from its settings when c is `seatlake events serve`; the commands
// that only need to know where the receiver keeps its secrets (check, new-endpoint) take events-dir alone.
func applyEventsSettings(c *cli.Context, settings *yaml.Node) error {
	switch {
	case c.Command.Name == "serve":
		return applyKeys(c, settings, "events.", false)
	case commandHasFlag(c.Command, "events-dir"):
		return applyKeys(c, onlyKey(settings, "events-dir"), "events.", false)
	}
	return nil
}

// onlyKey is the mapping m with its entries for key alone.
func onlyKey(m *yaml.Node, key string) *yaml.Node {
	out := &yaml.Node{Kind: yaml.MappingNode}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			out.Content = append(out.Content, m.Content[i], m.Content[i+1])
		}
	}
	return out
}

// commandHasFlag says whether cmd has a flag of that name.
func commandHasFlag(cmd *cli.Command, name string) bool {
	return slices.ContainsFunc(cmd.Flags, func(f cli.Flag) bool { return slices.Contains(f.Names(), name) })
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
	var targets []string
	subs := map[string]*cli.Command{}
	for _, sc := range syncCommand().Subcommands {
		targets = append(targets, sc.Name)
		subs[sc.Name] = sc
	}
	out := map[string]*yaml.Node{}
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
		if err := readSyncTarget(c, sub, val); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// readSyncTarget sets the flags of the sync subcommand sub from its settings when c is that command; when another
// command reads the file, the keys are checked against the target's flags, not applied.
func readSyncTarget(c *cli.Context, sub *cli.Command, settings *yaml.Node) error {
	if isSyncCommand(c, sub.Name) {
		return applyKeys(c, settings, "sync."+sub.Name+".", false)
	}
	flags, names := flagsByName(sub.Flags)
	for k := 0; k+1 < len(settings.Content); k += 2 {
		kn := settings.Content[k]
		key := kn.Value
		if _, known := flags[key]; !known || key == "config" || key == "help" {
			return fmt.Errorf("unknown key \"sync.%s.%s\" (line %d)%s", sub.Name, key, kn.Line, pipelines.Suggest(key, names))
		}
		if isSecretKey(key) {
			return fmt.Errorf("key \"sync.%s.%s\" (line %d): a secret's value never goes in the file: name a file with %s-file", sub.Name, key, kn.Line, key)
		}
	}
	return nil
}

// isSyncCommand says whether c is `seatlake sync <name>`.
func isSyncCommand(c *cli.Context, name string) bool {
	lineage := c.Lineage()
	return c.Command.Name == name && len(lineage) > 2 && lineage[1].Command != nil && lineage[1].Command.Name == "sync"
}

// flagsByName indexes flags by every name each answers to, and lists each one's first name, in order.
func flagsByName(flags []cli.Flag) (map[string]cli.Flag, []string) {
	byName := map[string]cli.Flag{}
	var names []string
	for _, f := range flags {
		for _, n := range f.Names() {
			byName[n] = f
		}
		names = append(names, f.Names()[0])
	}
	return byName, names
}

// isSecretKey names keys that would hold a secret's value.
func isSecretKey(key string) bool {
	return key == "client-secret" || key == "password" || key == "token" || key == "secret"
}

// applyKeys sets, from a mapping of the file, every flag of c it names that the command line and the environment
// did not; a key that names no flag is an error naming it (prefix says where it is). Top-level keys (top) may be
// sections, or settings of `seatlake run` that this command does not use.
func applyKeys(c *cli.Context, m *yaml.Node, prefix string, top bool) error {
	keys := newFlagKeys(c.Command.Flags, prefix, top)
	for i := 0; i+1 < len(m.Content); i += 2 {
		f, err := keys.flag(m.Content[i])
		if err != nil {
			return err
		}
		if f == nil {
			continue
		}
		if err := setFromFile(c, f, prefix+m.Content[i].Value, m.Content[i+1]); err != nil {
			return err
		}
	}
	return nil
}

// flagKeys are the keys a mapping of the file may have: the flags of a command, under prefix (events.,
// sync.<target>.), which says where the mapping is in the file.
type flagKeys struct {
	flags  map[string]cli.Flag
	names  []string // what an unknown key is compared with for a suggestion
	prefix string
	top    bool // the file's top level: sections and settings of `seatlake run` are passed over
}

func newFlagKeys(flags []cli.Flag, prefix string, top bool) flagKeys {
	byName, names := flagsByName(flags)
	names = slices.DeleteFunc(names, func(n string) bool { return n == "config" || n == "help" })
	if top {
		names = append(names, sectionKeys...)
	}
	return flagKeys{flags: byName, names: names, prefix: prefix, top: top}
}

// flag is the flag the key kn sets; nil when the key is not this command's to set (a section, or a setting of
// `seatlake run` this command does not use, e.g. `seatlake marts` with the nightly file).
func (k flagKeys) flag(kn *yaml.Node) (cli.Flag, error) {
	key := kn.Value
	if k.top && slices.Contains(sectionKeys, key) {
		return nil, nil
	}
	f, ok := k.flags[key]
	if !ok && k.top && isRunFlag(key) {
		return nil, nil
	}
	if isSecretKey(key) {
		return nil, fmt.Errorf("key %q (line %d): a secret's value never goes in the file: name a file with %s-file", k.prefix+key, kn.Line, key)
	}
	if !ok || key == "config" || key == "help" {
		return nil, fmt.Errorf("unknown key %q (line %d)%s", k.prefix+key, kn.Line, pipelines.Suggest(key, k.names))
	}
	return f, nil
}

// setFromFile sets flag f from the file's value of key, unless the command line or the environment set it (they
// win).
func setFromFile(c *cli.Context, f cli.Flag, key string, val *yaml.Node) error {
	name := f.Names()[0]
	if c.IsSet(name) {
		return nil
	}
	vals, err := fileValues(key, val)
	if err != nil {
		return err
	}
	for _, v := range vals {
		if err := c.Set(name, v); err != nil { // the flag package says only "parse error"
			return fmt.Errorf("key %q (line %d): %q: %s", key, val.Line, v, wants(f))
		}
	}
	return nil
}

// fileValues are the values a key of the file gives a flag: one value, or a list of them.
func fileValues(key string, val *yaml.Node) ([]string, error) {
	switch val.Kind {
	case yaml.ScalarNode:
		return []string{val.Value}, nil
	case yaml.SequenceNode:
		var vals []string
		for _, v := range val.Content {
			if v.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("key %q (line %d): want a list of values", key, v.Line)
			}
			vals = append(vals, v.Value)
		}
		return vals, nil
	}
	return nil, fmt.Errorf("key %q (line %d): want a value or a list", key, val.Line)
}

func readTenants(n *yaml.Node) ([]tenantFile, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("tenants (line %d): want a list of tenants", n.Line)
	}
	var out []tenantFile
	for i, tn := range n.Content {
		t, err := readTenant(i, tn)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// readTenant checks every key of the tenant entry at index i before decoding it, so that an error names the tenant
// and the key in the user's words, never YAML's.
func readTenant(i int, tn *yaml.Node) (tenantFile, error) {
	if tn.Kind != yaml.MappingNode {
		return tenantFile{}, fmt.Errorf("tenants[%d] (line %d): want a mapping (name, tenant-id, client-id, …)", i, tn.Line)
	}
	label := tenantLabel(i, tn)
	sources := map[string][]string{}
	for k := 0; k+1 < len(tn.Content); k += 2 {
		if err := readTenantKey(sources, tn.Content[k], tn.Content[k+1]); err != nil {
			return tenantFile{}, fmt.Errorf("%s: %w", label, err)
		}
	}
	t := tenantFile{Sources: sources}
	if err := tn.Decode(&t); err != nil {
		return tenantFile{}, fmt.Errorf("%s: %s", label, oneLine(err.Error()))
	}
	return t, nil
}

// tenantLabel names a tenant entry in messages: by its name when it has one, else by its place in the list.
func tenantLabel(i int, tn *yaml.Node) string {
	label := fmt.Sprintf("tenants[%d]", i)
	for k := 0; k+1 < len(tn.Content); k += 2 {
		if tn.Content[k].Value == "name" {
			label = fmt.Sprintf("tenant %q", tn.Content[k+1].Value)
		}
	}
	return label
}

// readTenantKey checks one key of a tenant's entry: a registered source's per-tenant setting is read into sources;
// the others are the entry's own (tenantKeys), only checked here and decoded after.
func readTenantKey(sources map[string][]string, kn, v *yaml.Node) error {
	key := kn.Value
	if s, ok := tenantSetting(key); ok {
		vals, err := sourceValue(s, v)
		if err != nil {
			return err
		}
		sources[s.Key] = vals
		return nil
	}
	if targetTenantKey(key) {
		x, err := scalar(key, v, "a value")
		sources[key] = []string{x}
		return err
	}
	if key == "client-secret" {
		return fmt.Errorf("key %q (line %d): a secret's value never goes in the file: use client-secret-file or client-secret-env", key, kn.Line)
	}
	if !slices.Contains(tenantKeys, key) {
		return fmt.Errorf("unknown key %q (line %d)%s", key, kn.Line, pipelines.Suggest(key, allTenantKeys()))
	}
	return tenantValue(key, v)
}

// tenantValue checks the shape of a tenant entry's value, so that decoding it cannot fail with YAML's words.
func tenantValue(key string, v *yaml.Node) error {
	switch key {
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
// tenant's settings; errors name the tenant and the key. base holds what the command line says (endpoints, the
// sources' settings such as histories), which a tenant may override. credentials reads the secret after.
func (t tenantFile) settings(i int, base pipelines.Config) (pipelines.Config, error) {
	label := fmt.Sprintf("tenants[%d]", i)
	if t.Name != "" {
		label = fmt.Sprintf("tenant %q", t.Name)
	}
	cfg := base
	cfg.Name, cfg.TenantID, cfg.ClientID = t.Name, t.TenantID, t.ClientID
	cfg.Sources = tenantSources(base.Sources).With(t.Sources)
	cfg.ManagedIdentity = cfg.ManagedIdentity || t.ManagedIdentity
	sources := func(*pipelines.Config) *keyError { return checkTenantSources(t.Sources) }
	for _, step := range []func(*pipelines.Config) *keyError{t.required, t.endpoints, sources, t.credentialChoice} {
		if err := step(&cfg); err != nil {
			return pipelines.Config{}, fmt.Errorf("%s: %s: %s", label, err.key, err.msg)
		}
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
	}{{"authority-host", []string{cfg.AuthorityHost}}, {"graph-endpoint", []string{cfg.GraphEndpoint}}} {
		for _, u := range kv.urls {
			if err := pipelines.CheckEndpoint(u); err != nil {
				return keyErr(kv.key, "%s: %v", u, err)
			}
		}
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
