package rules

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
)

// SKUNamesPage is Microsoft's page "Product names and service plan identifiers for licensing"; SKUNamesURL is the
// CSV version it links to. Nothing here fetches them: a caller that may reach the internet downloads SKUNamesURL
// and hands the body to ReadSKUNames (an explicit opt-in; the shipped subset, skunames.csv, needs no network).
const (
	SKUNamesPage = "https://learn.microsoft.com/entra/identity/users/licensing-service-plan-reference"
	SKUNamesURL  = "https://download.microsoft.com/download/e/3/e/e3e9faf2-f28b-490a-9ada-c6089a1fc5b0/" +
		"Product%20names%20and%20service%20plan%20identifiers%20for%20licensing.csv"
)

//go:embed skunames.csv
var shippedSKUNames []byte

// SKUName is a SKU's product display name as Microsoft publishes it: Product_Display_Name for String_Id (the
// skuPartNumber of subscribedSkus) and GUID (its skuId).
type SKUName struct {
	PartNumber  string
	SkuID       string
	DisplayName string
}

// ShippedSKUNames returns the subset of Microsoft's list that ships with seatlake (transform/rules/skunames.csv).
func ShippedSKUNames() []SKUName {
	names, err := ReadSKUNames(bytes.NewReader(shippedSKUNames))
	if err != nil {
		panic("rules: skunames.csv: " + err.Error()) // a broken embedded file fails every test
	}
	return names
}

// ReadSKUNames reads Microsoft's "Product names and service plan identifiers for licensing" CSV, or a subset of it
// in the same columns: it needs Product_Display_Name, String_Id and GUID and ignores the others (the full file has
// one row per service plan of each product, so a SKU repeats; the first row of a String_Id wins). It accepts a
// UTF-8 byte order mark, Windows-1252 text (the published file holds 0xA0 no-break spaces), lines starting with #
// before the header, and stray spaces, tabs and no-break spaces around a value. A row without a String_Id or a
// name is an error naming its line.
func ReadSKUNames(rd io.Reader) ([]SKUName, error) {
	raw, err := io.ReadAll(rd)
	if err != nil {
		return nil, fmt.Errorf("reading the product names: %w", err)
	}
	if raw, err = asUTF8(raw); err != nil {
		return nil, err
	}
	r := csv.NewReader(bytes.NewReader(raw))
	r.Comment = '#'
	r.FieldsPerRecord = -1
	col, err := readSKUNamesHeader(r)
	if err != nil {
		return nil, err
	}
	out, err := readSKUNameRows(r, col)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the product names file lists no SKU")
	}
	return out, nil
}

// asUTF8 drops a UTF-8 byte order mark, and decodes text that is not UTF-8 as Windows-1252.
func asUTF8(raw []byte) ([]byte, error) {
	raw = bytes.TrimPrefix(raw, []byte("\ufeff"))
	if utf8.Valid(raw) {
		return raw, nil
	}
	raw, err := charmap.Windows1252.NewDecoder().Bytes(raw)
	if err != nil {
		return nil, fmt.Errorf("reading the product names: neither UTF-8 nor Windows-1252: %w", err)
	}
	return raw, nil
}

// readSKUNamesHeader reads the header and returns the column of each name in it; a missing column of the three
// ReadSKUNames needs is an error naming them all.
func readSKUNamesHeader(r *csv.Reader) (map[string]int, error) {
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the product names file is empty (want the header Product_Display_Name,String_Id,GUID)")
	}
	if err != nil {
		return nil, fmt.Errorf("reading the product names header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[clean(h)] = i
	}
	var missing []string
	for _, need := range []string{"Product_Display_Name", "String_Id", "GUID"} {
		if _, ok := col[need]; !ok {
			missing = append(missing, need)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the product names file has no column %s (want Microsoft's header Product_Display_Name,String_Id,GUID,...; got %s)",
			strings.Join(missing, ", "), strings.Join(header, ","))
	}
	return col, nil
}

// readSKUNameRows reads the rows after the header, the first of each String_Id, skipping blank ones.
func readSKUNameRows(r *csv.Reader, col map[string]int) ([]SKUName, error) {
	var out []SKUName
	seen := map[string]bool{}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading the product names: %w", err)
		}
		line, _ := r.FieldPos(0)
		get := func(k string) string {
			if i := col[k]; i < len(rec) {
				return clean(rec[i])
			}
			return ""
		}
		n := SKUName{PartNumber: get("String_Id"), SkuID: strings.ToLower(get("GUID")), DisplayName: get("Product_Display_Name")}
		if n.PartNumber == "" && n.DisplayName == "" && n.SkuID == "" {
			continue // a blank line of commas
		}
		if n.PartNumber == "" || n.DisplayName == "" {
			return nil, fmt.Errorf("product names line %d: want a Product_Display_Name and a String_Id, got %q and %q", line, n.DisplayName, n.PartNumber)
		}
		if seen[n.PartNumber] {
			continue
		}
		seen[n.PartNumber] = true
		out = append(out, n)
	}
}

// clean trims spaces, tabs and no-break spaces (all found around values in Microsoft's file).
func clean(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == '\u00a0' || r == '\ufeff' })
}

// DisplayNames returns every SKU's display name by part number: the config's sku-names over Microsoft's list.
func (r *Rules) DisplayNames() map[string]string {
	out := make(map[string]string, len(r.SKUNames)+len(r.NameOverrides))
	for _, n := range r.SKUNames {
		out[n.PartNumber] = n.DisplayName
	}
	for part, name := range r.NameOverrides {
		out[part] = name
	}
	return out
}

// WithSKUNames returns r with names in place of its list of Microsoft's product names (e.g. a fresh download of
// SKUNamesURL read by ReadSKUNames); source says where they came from. The config's sku-names still win.
func (r *Rules) WithSKUNames(names []SKUName, source string) *Rules {
	c := *r
	c.SKUNames, c.SKUNamesSource = names, source
	return &c
}
