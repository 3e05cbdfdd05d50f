// Package rules holds the license rules as data: which SKUs make which product, the evidence that proves each
// product is used, the inactivity threshold, exclusions, F&O license tiers and prices. The defaults are
// default.yaml (embedded); a deployment overrides them in its config file. transform/ loads them into DuckDB as
// small tables beside the warehouse views; no rule is an if in Go.
package rules

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

//go:embed default.yaml
var defaultYAML []byte

//go:embed prices.example.csv
var examplePrices []byte

// Evidence kinds a product may list.
const (
	SignInLog      = "signin_log"
	Dataverse      = "dataverse"
	SignInActivity = "sign_in_activity"
	UsageReport    = "usage_report"
)

// Rules is the whole rule set.
type Rules struct {
	ThresholdDays int                 `yaml:"threshold-days"`
	Exclude       Exclude             `yaml:"exclude"`
	Evidence      map[string]Evidence `yaml:"evidence"`
	FinOpsTiers   []Tier              `yaml:"finops-tiers"`
	Products      []Product           `yaml:"products"`
	// NameOverrides renames SKUs: part number -> the name the report, the marts and the syncs show, over
	// Microsoft's product name.
	NameOverrides map[string]string `yaml:"sku-names"`
	// Prices are the price list (empty: costs and savings are null). PricesSource says where it came from.
	Prices       []Price `yaml:"-"`
	PricesSource string  `yaml:"-"`
	// SKUNames are Microsoft's product display names (the shipped subset unless replaced); SKUNamesSource says
	// where they came from.
	SKUNames       []SKUName `yaml:"-"`
	SKUNamesSource string    `yaml:"-"`
}

// Exclude says which licenses are never reclaim candidates.
type Exclude struct {
	UPNRegex                string   `yaml:"upn-regex"`
	Users                   []string `yaml:"users"`
	Groups                  []string `yaml:"groups"`
	DataverseNonInteractive bool     `yaml:"dataverse-non-interactive"`
}

// Evidence describes one evidence kind.
type Evidence struct {
	Lag string `yaml:"lag"`
}

// Tier is an F&O license tier.
type Tier struct {
	Tier string `yaml:"tier"`
	Rank int    `yaml:"rank"`
	SKU  string `yaml:"sku"`
}

// Product is a licensed product.
type Product struct {
	ID            string   `yaml:"id"`
	Name          string   `yaml:"name"`
	SKUs          []string `yaml:"skus"`
	Evidence      []string `yaml:"evidence"`
	Resources     []string `yaml:"resources"`
	ThresholdDays int      `yaml:"threshold-days"`
	DowngradeTo   string   `yaml:"downgrade-to"`
	DowngradeSKU  string   `yaml:"downgrade-sku"`
	FinOpsLicense string   `yaml:"finops-license"`
}

// Price is one price-list row: a SKU part number (or finops:<tier>) and its monthly price per user.
type Price struct {
	SKU      string
	Monthly  float64
	Currency string
}

// Default returns the built-in rules with the example price list, which is labelled as such wherever it is used.
func Default() *Rules {
	r, err := parse(defaultYAML)
	if err != nil {
		panic("rules: default.yaml: " + err.Error()) // a broken embedded file fails every test
	}
	r.SKUNames, r.SKUNamesSource = ShippedSKUNames(), "seatlake's copy of Microsoft's product names (transform/rules/skunames.csv)"
	return r
}

// WithExamplePrices returns r with the example price list (clearly marked examples, for the demo).
func (r *Rules) WithExamplePrices() *Rules {
	p, err := ReadPrices(bytes.NewReader(examplePrices))
	if err != nil {
		panic("rules: prices.example.csv: " + err.Error())
	}
	c := *r
	c.Prices, c.PricesSource = p, "example prices (not your agreement's)"
	return &c
}

func parse(b []byte) (*Rules, error) {
	var r Rules
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	return &r, r.Validate()
}

// Override is the rules section of a config file: every field optional, applied over the defaults.
type Override struct {
	ThresholdDays     *int             `yaml:"threshold-days"`
	ProductThresholds map[string]int   `yaml:"product-thresholds"`
	Exclude           *ExcludeOverride `yaml:"exclude"`
	Prices            string           `yaml:"prices"`
	ProductsFile      string           `yaml:"products-file"`
	// SKUNames renames SKUs (part number: name), over Microsoft's names and default.yaml's.
	SKUNames map[string]string `yaml:"sku-names"`
	// SKUNamesFile replaces the shipped product names with a file in Microsoft's CSV columns, e.g. the whole list
	// downloaded from SKUNamesURL.
	SKUNamesFile string `yaml:"sku-names-file"`
}

// ExcludeOverride is the exclude section of a config file's rules: each field given replaces the default's.
type ExcludeOverride struct {
	UPNRegex                *string  `yaml:"upn-regex"`
	Users                   []string `yaml:"users"`
	Groups                  []string `yaml:"groups"`
	DataverseNonInteractive *bool    `yaml:"dataverse-non-interactive"`
}

// Apply reads a config file's rules section (a YAML node) over r. Relative file names are taken from dir (the
// config file's folder). Errors name the key and line.
func (r *Rules) Apply(node *yaml.Node, dir string) (*Rules, error) {
	var o Override
	if err := checkNode(node, reflect.TypeOf(o), "rules"); err != nil {
		return nil, err
	}
	if err := node.Decode(&o); err != nil { // the node's lines are the config file's
		return nil, fmt.Errorf("rules: %s", oneLine(err.Error()))
	}
	c := *r
	c.Products = slices.Clone(r.Products)
	c.NameOverrides = maps.Clone(r.NameOverrides)
	var err error
	if o.ProductsFile != "" {
		if c.Products, err = readProducts(o.ProductsFile, dir); err != nil {
			return nil, err
		}
	}
	if o.ThresholdDays != nil {
		c.ThresholdDays = *o.ThresholdDays
	}
	if err = c.setProductThresholds(o.ProductThresholds); err != nil {
		return nil, err
	}
	c.Exclude.apply(o.Exclude)
	if o.Prices != "" {
		if c.Prices, err = readListFile("prices", o.Prices, dir, ReadPrices); err != nil {
			return nil, err
		}
		c.PricesSource = o.Prices
	}
	if o.SKUNamesFile != "" {
		if c.SKUNames, err = readListFile("sku-names-file", o.SKUNamesFile, dir, ReadSKUNames); err != nil {
			return nil, err
		}
		c.SKUNamesSource = o.SKUNamesFile
	}
	c.setNameOverrides(o.SKUNames)
	if err = c.Validate(); err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return &c, nil
}

// inDir is the file name p of a config file in dir: as written when absolute or when there is no dir.
func inDir(dir, p string) string {
	if filepath.IsAbs(p) || dir == "" {
		return p
	}
	return filepath.Join(dir, p)
}

// readProducts reads the products-file the config file names (name, taken from dir): a YAML mapping with a
// products list, as in default.yaml.
func readProducts(name, dir string) ([]Product, error) {
	raw, err := os.ReadFile(inDir(dir, name))
	if err != nil {
		return nil, fmt.Errorf("rules: products-file: %w", err)
	}
	var pf struct {
		Products []Product `yaml:"products"`
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("rules: products-file %s: not YAML: %s", name, oneLine(err.Error()))
	}
	if len(doc.Content) == 0 {
		return nil, fmt.Errorf("rules: products-file %s: empty: want a products list (see transform/rules/default.yaml)", name)
	}
	if err := checkNode(doc.Content[0], reflect.TypeOf(pf), ""); err != nil {
		return nil, fmt.Errorf("rules: products-file %s: %w", name, err)
	}
	if err := doc.Content[0].Decode(&pf); err != nil {
		return nil, fmt.Errorf("rules: products-file %s: %s", name, oneLine(err.Error()))
	}
	return pf.Products, nil
}

// readListFile reads the file the config file's key names (name, taken from dir) with read.
func readListFile[T any](key, name, dir string, read func(io.Reader) ([]T, error)) ([]T, error) {
	f, err := os.Open(inDir(dir, name))
	if err != nil {
		return nil, fmt.Errorf("rules: %s: %w", key, err)
	}
	defer f.Close()
	list, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("rules: %s %s: %w", key, name, err)
	}
	return list, nil
}

// setProductThresholds sets each named product's own threshold; a name that is no product is an error listing
// the products.
func (r *Rules) setProductThresholds(days map[string]int) error {
	for id, d := range days {
		i := slices.IndexFunc(r.Products, func(p Product) bool { return p.ID == id })
		if i < 0 {
			return fmt.Errorf("rules: product-thresholds: no product %q (products: %s)", id, strings.Join(r.productIDs(), ", "))
		}
		r.Products[i].ThresholdDays = d
	}
	return nil
}

// apply sets the fields o gives (o may be nil).
func (e *Exclude) apply(o *ExcludeOverride) {
	if o == nil {
		return
	}
	if o.UPNRegex != nil {
		e.UPNRegex = *o.UPNRegex
	}
	if o.Users != nil {
		e.Users = o.Users
	}
	if o.Groups != nil {
		e.Groups = o.Groups
	}
	if o.DataverseNonInteractive != nil {
		e.DataverseNonInteractive = *o.DataverseNonInteractive
	}
}

// setNameOverrides adds the config file's sku-names over r's (r's map must not be shared: Apply clones it).
func (r *Rules) setNameOverrides(names map[string]string) {
	if len(names) > 0 && r.NameOverrides == nil {
		r.NameOverrides = map[string]string{}
	}
	for part, name := range names {
		r.NameOverrides[part] = name
	}
}

func (r *Rules) productIDs() []string {
	ids := make([]string, len(r.Products))
	for i, p := range r.Products {
		ids[i] = p.ID
	}
	return ids
}

// Validate checks the rules make sense, naming the product or key that does not.
func (r *Rules) Validate() error {
	var errs []error
	if !validDays(r.ThresholdDays) {
		errs = append(errs, fmt.Errorf("threshold-days %d: want 1 to 3650", r.ThresholdDays))
	}
	if r.Exclude.UPNRegex != "" {
		if _, err := regexp.Compile(r.Exclude.UPNRegex); err != nil {
			errs = append(errs, fmt.Errorf("exclude.upn-regex: %w", err))
		}
	}
	errs = append(errs, r.productErrors()...)
	for _, part := range slices.Sorted(maps.Keys(r.NameOverrides)) {
		if strings.TrimSpace(part) == "" || strings.TrimSpace(r.NameOverrides[part]) == "" {
			errs = append(errs, fmt.Errorf("sku-names: %q: %q: want a part number and a name (e.g. DYN365_TEAM_MEMBERS: Dynamics 365 Team Members)", part, r.NameOverrides[part]))
		}
	}
	return errors.Join(errs...)
}

// validDays reports whether d is a threshold in days the rules accept.
func validDays(d int) bool { return d >= 1 && d <= 3650 }

// productErrors are what is wrong with the products, in their order: an id missing or listed twice, no SKUs or a
// SKU of another product, then what productRuleErrors finds.
func (r *Rules) productErrors() []error {
	var errs []error
	ids, skus := map[string]bool{}, map[string]string{}
	for i, p := range r.Products {
		name := p.ID
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
			errs = append(errs, fmt.Errorf("product %s: no id", name))
		}
		if ids[p.ID] {
			errs = append(errs, fmt.Errorf("product %s: listed twice", name))
		}
		ids[p.ID] = true
		if len(p.SKUs) == 0 {
			errs = append(errs, fmt.Errorf("product %s: no skus", name))
		}
		for _, s := range p.SKUs {
			if other, ok := skus[s]; ok {
				errs = append(errs, fmt.Errorf("product %s: SKU %s is already product %s", name, s, other))
			}
			skus[s] = p.ID
		}
		errs = append(errs, r.productRuleErrors(name, p)...)
	}
	return errs
}

// productRuleErrors are what is wrong with product p (called name) on its own: its evidence, its threshold and its
// F&O license tier.
func (r *Rules) productRuleErrors(name string, p Product) []error {
	var errs []error
	if len(p.Evidence) == 0 {
		errs = append(errs, fmt.Errorf("product %s: no evidence (want some of %s, %s, %s, %s)", name, SignInLog, Dataverse, SignInActivity, UsageReport))
	}
	for _, e := range p.Evidence {
		if _, ok := r.Evidence[e]; !ok {
			errs = append(errs, fmt.Errorf("product %s: unknown evidence %q (want %s, %s, %s or %s)", name, e, SignInLog, Dataverse, SignInActivity, UsageReport))
		}
	}
	if slices.Contains(p.Evidence, SignInLog) && len(p.Resources) == 0 {
		errs = append(errs, fmt.Errorf("product %s: evidence %s needs resources (the resource ids its sign-ins ask a token for)", name, SignInLog))
	}
	if p.ThresholdDays != 0 && !validDays(p.ThresholdDays) {
		errs = append(errs, fmt.Errorf("product %s: threshold-days %d: want 1 to 3650", name, p.ThresholdDays))
	}
	if p.FinOpsLicense != "" && !slices.ContainsFunc(r.FinOpsTiers, func(t Tier) bool { return t.Tier == p.FinOpsLicense }) {
		errs = append(errs, fmt.Errorf("product %s: finops-license %q is not a tier of finops-tiers", name, p.FinOpsLicense))
	}
	return errs
}

// ReadPrices reads a price list: CSV with the header sku_part_number,monthly_price,currency (more columns are
// kept out), one row per SKU.
func ReadPrices(rd io.Reader) ([]Price, error) {
	r := csv.NewReader(rd)
	r.FieldsPerRecord = -1
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("reading the header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, need := range []string{"sku_part_number", "monthly_price", "currency"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("no column %s (want sku_part_number,monthly_price,currency)", need)
		}
	}
	var out []Price
	seen := map[string]bool{}
	for line := 2; ; line++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		get := func(k string) string {
			if i := col[k]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		p := Price{SKU: get("sku_part_number"), Currency: get("currency")}
		if p.SKU == "" {
			return nil, fmt.Errorf("line %d: no sku_part_number", line)
		}
		if seen[p.SKU] {
			return nil, fmt.Errorf("line %d: %s is priced twice", line, p.SKU)
		}
		seen[p.SKU] = true
		if p.Monthly, err = strconv.ParseFloat(get("monthly_price"), 64); err != nil || p.Monthly < 0 {
			return nil, fmt.Errorf("line %d: monthly_price %q is not a price", line, get("monthly_price"))
		}
		if len(p.Currency) != 3 {
			return nil, fmt.Errorf("line %d: currency %q: want a 3-letter code such as USD", line, p.Currency)
		}
		out = append(out, p)
	}
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
