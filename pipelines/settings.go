package pipelines

import (
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/extract/msauth"
	"github.com/seatlake/seatlake/internal/table"
	"github.com/seatlake/seatlake/load/warehouse"
	"github.com/seatlake/seatlake/transform/rules"
)

// What cmd needs to read settings, secrets and credentials, named here so that cmd imports no stage: thin
// wrappers over the stages' own functions and types, which keep the rules.

// Secret is a secret's value, redacted when printed or logged (msauth.Secret).
type Secret = msauth.Secret

// Rules are the license rules the marts apply (transform/rules).
type Rules = rules.Rules

// MaintainOptions and TableMaintenance are warehouse maintenance's options and its result per table.
type (
	MaintainOptions  = warehouse.MaintainOptions
	TableMaintenance = warehouse.TableMaintenance
)

// Defaults of settings that cmd's flags show.
const (
	DefaultBatchRows = table.DefaultBatchRows
	DefaultCodec     = warehouse.DefaultCodec
	// LegacyDir is the folder, under the warehouse directory, where migrate moves the earlier layout's files.
	LegacyDir = warehouse.LegacyDir
)

// CheckCodec checks a Parquet codec's name.
func CheckCodec(name string) error { return warehouse.CheckCodec(name) }

// Suggest is ", did you mean "x"?" for the known word nearest to s, or "".
func Suggest(s string, known []string) string { return rules.Suggest(s, known) }

// CheckEndpoint checks a service's URL: https, or http:// on loopback only.
func CheckEndpoint(u string) error { return msauth.CheckEndpoint(u) }

// Cloud is a national cloud's identity platform host and Graph endpoint, by its name; ok false for a name that is
// none (CloudNames lists them).
func Cloud(name string) (authorityHost, graphEndpoint string, ok bool) {
	c, ok := msauth.Clouds[name]
	return c.AuthorityHost, c.GraphEndpoint, ok
}

// CloudNames are the national clouds' names.
func CloudNames() []string { return msauth.CloudNames() }

// LoadSecret reads a secret from the file, else from the environment variable.
func LoadSecret(envName, file string) (Secret, error) { return msauth.LoadSecret(envName, file) }

// Credential picks the client credential, strongest first: a certificate (its password in the environment
// variable certPasswordEnv), a federated token file, else a secret (from its file or its environment variable).
// Passwords and secrets come from the environment or files only.
func Credential(clientID, certFile, certPasswordEnv, federatedFile, secretEnv, secretFile string) (Secret, msauth.Assertion, error) {
	switch {
	case certFile != "":
		cert, key, err := msauth.LoadCertificate(certFile, msauth.Secret(os.Getenv(certPasswordEnv)))
		if err != nil {
			return "", nil, err
		}
		return "", msauth.CertificateAssertion(clientID, cert, key, nil), nil
	case federatedFile != "":
		if _, err := os.Stat(federatedFile); err != nil {
			return "", nil, fmt.Errorf("the federated token file: %w", err)
		}
		return "", msauth.FederatedAssertion(federatedFile), nil
	}
	secret, err := msauth.LoadSecret(secretEnv, secretFile)
	return secret, nil, err
}

// LoadRules are the default license rules with the config file's rules section (nil: none) over them; dir is the
// config file's folder, against which the section's file names are read.
func LoadRules(section *yaml.Node, dir string) (*Rules, error) {
	r := rules.Default()
	if section == nil {
		return r, nil
	}
	return r.Apply(section, dir)
}

// WriteFileAtomic writes the file whole (a temporary name, then a rename): a reader never sees half of it.
func WriteFileAtomic(path string, data []byte) error {
	return warehouse.WriteAtomic(path, func(w io.Writer) error { _, err := w.Write(data); return err })
}

// LegacyPath is where migrate moves the earlier folder layout's files under the warehouse directory root.
func LegacyPath(root string) string { return warehouse.LegacyPath(root) }

// HasWarehouse reports whether dir holds a warehouse: its views, catalog or recorded settings, or the tables of the
// earlier folder layout.
func HasWarehouse(dir string) bool { return warehouse.Exists(dir) }

// HasViews reports whether dir holds the DuckDB views that query and report read.
func HasViews(dir string) bool { return warehouse.HasViews(dir) }
