package rules

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkNode checks a YAML node against the type it is decoded into (structs by their yaml tags, maps, lists,
// scalars), so that a mistake reads as the rest of the config file's errors: an unknown key names where it is, its
// line and the nearest known key; a value of the wrong kind names the key, its line, the value given and what is
// expected. path is where n is ("rules", "products[0]"; empty: the top of a file). Decoding after it does not fail
// on the file's shape.
func checkNode(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil // an empty value leaves the default
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		return checkStruct(n, t, path)
	case reflect.Map:
		return checkMap(n, t, path)
	case reflect.Slice:
		return checkList(n, t, path)
	}
	return checkScalar(n, t, path)
}

// checkStruct checks a mapping's keys against the struct's yaml tags, and each value against its field.
func checkStruct(n *yaml.Node, t reflect.Type, path string) error {
	keys, fields := structKeys(t)
	if n.Kind != yaml.MappingNode {
		return kindError(path, n, "a mapping ("+strings.Join(keys, ", ")+")")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		key := n.Content[i].Value
		f, ok := fields[key]
		if !ok {
			return fmt.Errorf("unknown key %q %s (line %d)%s", key, under(path), n.Content[i].Line, Suggest(key, keys))
		}
		if err := checkNode(n.Content[i+1], f.Type, join(path, key)); err != nil {
			return err
		}
	}
	return nil
}

// checkMap checks each value of a mapping against the map's element type.
func checkMap(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.MappingNode {
		return kindError(path, n, "a mapping, e.g. {key: value}")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if err := checkNode(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
			return err
		}
	}
	return nil
}

// checkList checks each item of a list against the slice's element type.
func checkList(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.SequenceNode {
		return kindError(path, n, "a list, e.g. [a, b]")
	}
	for i, item := range n.Content {
		if err := checkNode(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// checkScalar checks a value decodes into t.
func checkScalar(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.ScalarNode {
		return kindError(path, n, describe(t))
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		return fmt.Errorf("key %q (line %d): %q: want %s", path, n.Line, n.Value, describe(t))
	}
	return nil
}

// structKeys are the yaml keys of a struct, in order, and their fields.
func structKeys(t reflect.Type) ([]string, map[string]reflect.StructField) {
	var keys []string
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		keys = append(keys, name)
		fields[name] = f
	}
	return keys, fields
}

// describe says what a value of type t is, as the file's reader would put it.
func describe(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.String:
		return "a text value"
	}
	return t.String()
}

func kindError(path string, n *yaml.Node, want string) error {
	got := "a value"
	switch n.Kind {
	case yaml.MappingNode:
		got = "a mapping"
	case yaml.SequenceNode:
		got = "a list"
	}
	if path == "" {
		return fmt.Errorf("line %d: want %s, not %s", n.Line, want, got)
	}
	return fmt.Errorf("key %q (line %d): want %s, not %s", path, n.Line, want, got)
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func under(path string) string {
	if path == "" {
		return "at the top of the file"
	}
	return "under " + path
}

// Suggest is ", did you mean …?" for the known key nearest to key (edit distance under 4), or "" when none is
// near: the hint of every unknown-key error of the config file.
func Suggest(key string, known []string) string {
	best, bestD := "", 4
	for _, k := range known {
		if d := editDistance(key, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(", did you mean %q?", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
