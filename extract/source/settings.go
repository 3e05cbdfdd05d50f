package source

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Kind is the type of a setting's value.
type Kind int

const (
	String   Kind = iota + 1 // any text
	URL                      // an http(s) URL
	URLs                     // a list of http(s) URLs (repeatable flag, YAML list)
	Duration                 // Go's duration syntax: 90m, 24h
	Int                      // a whole number
)

func (k Kind) String() string {
	switch k {
	case String:
		return "text"
	case URL:
		return "a URL"
	case URLs:
		return "a list of URLs"
	case Duration:
		return "a duration such as 90m or 24h"
	case Int:
		return "a whole number"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Setting is one thing a user can set for a source: a flag of `seatlake run` and `seatlake check`, a key of the
// config file (at the top, and in a tenant's entry when PerTenant), an environment variable when Env is set.
type Setting struct {
	Key       string // the flag and the key, starting with the source's name: e.g. dataverse-window
	Kind      Kind
	Default   string // in the value's own syntax; empty: unset
	Min, Max  string // bounds of a Duration or Int, in its syntax; empty: none
	Help      string
	Env       string // environment variable, optional
	PerTenant bool   // a tenant's entry may set it, over the top-level value
	// TenantKey is the setting's key in a tenant's entry when it is not Key (e.g. dataverse for dataverse-url).
	TenantKey string
	// TenantOnly: with a tenants list, only a tenant's own entry gives the setting (an environment belongs to one
	// tenant); the top-level value is that of the one tenant of the command line.
	TenantOnly bool
	// Want says what a value is, for messages (default: the kind's words), e.g. "a list of environment URLs".
	Want string
}

// InTenant is the setting's key in a tenant's entry.
func (s Setting) InTenant() string {
	if s.TenantKey != "" {
		return s.TenantKey
	}
	return s.Key
}

// Wants says what a value of the setting is.
func (s Setting) Wants() string {
	if s.Want != "" {
		return s.Want
	}
	return s.Kind.String()
}

func (s Setting) check() error {
	if s.Kind < String || s.Kind > Int {
		return fmt.Errorf("setting %s: no kind", s.Key)
	}
	for _, v := range []string{s.Default, s.Min, s.Max} {
		if v == "" {
			continue
		}
		if err := s.parse(v); err != nil {
			return fmt.Errorf("setting %s: its own default or bound %q: %w", s.Key, v, err)
		}
	}
	return nil
}

// parse checks one value's syntax (not its bounds).
func (s Setting) parse(v string) error {
	switch s.Kind {
	case Duration:
		_, err := time.ParseDuration(v)
		return err
	case Int:
		_, err := strconv.Atoi(v)
		return err
	case URL, URLs:
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return errors.New("want an http(s) URL")
		}
	}
	return nil
}

// Validate checks one value of the setting: its syntax and its bounds. The error names neither the key nor the
// value; the caller says where the value came from.
func (s Setting) Validate(v string) error {
	if err := s.parse(v); err != nil {
		return fmt.Errorf("want %s", s.Wants())
	}
	if s.Min == "" && s.Max == "" {
		return nil
	}
	less := func(a, b string) bool {
		if s.Kind == Duration {
			x, _ := time.ParseDuration(a)
			y, _ := time.ParseDuration(b)
			return x < y
		}
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return x < y
	}
	switch {
	case s.Min != "" && s.Max != "" && (less(v, s.Min) || less(s.Max, v)):
		return fmt.Errorf("must be between %s and %s", s.Min, s.Max)
	case s.Min != "" && less(v, s.Min):
		return fmt.Errorf("must be at least %s", s.Min)
	case s.Max != "" && less(s.Max, v):
		return fmt.Errorf("must be at most %s", s.Max)
	}
	return nil
}

// Values are one tenant's values of the registered settings, by key, as given (a list setting has several).
// A key without a value takes the setting's default.
type Values map[string][]string

// With returns v with over's values replacing v's key by key (a tenant's entry over the top level).
func (v Values) With(over Values) Values {
	out := Values{}
	for k, vs := range v {
		out[k] = vs
	}
	for k, vs := range over {
		out[k] = vs
	}
	return out
}

// Validate checks every value v holds for the settings: an error per bad value, naming its key.
func Validate(settings []Setting, v Values) error {
	var errs []error
	for _, s := range settings {
		for _, x := range v[s.Key] {
			if err := s.Validate(x); err != nil {
				errs = append(errs, fmt.Errorf("%s %q: %w", s.Key, x, err))
			}
		}
	}
	return errors.Join(errs...)
}

// Reader reads one source's values with their defaults, typed; settings are validated before a source sees them,
// so a value that does not parse reads as the zero value.
type Reader struct {
	settings []Setting
	v        Values
}

// Read returns a reader of v for settings.
func Read(settings []Setting, v Values) Reader { return Reader{settings, v} }

func (r Reader) raw(key string) []string {
	if vs, ok := r.v[key]; ok && len(vs) > 0 {
		return vs
	}
	for _, s := range r.settings {
		if s.Key == key && s.Default != "" {
			return []string{s.Default}
		}
	}
	return nil
}

// String is the setting's value (its last, for a list), or its default.
func (r Reader) String(key string) string {
	vs := r.raw(key)
	if len(vs) == 0 {
		return ""
	}
	return vs[len(vs)-1]
}

// Strings are a list setting's values, trimmed of spaces and a trailing /, for URLs.
func (r Reader) Strings(key string) []string {
	var out []string
	for _, v := range r.raw(key) {
		out = append(out, strings.TrimRight(strings.TrimSpace(v), "/"))
	}
	return out
}

// Duration is a duration setting's value.
func (r Reader) Duration(key string) time.Duration {
	d, _ := time.ParseDuration(r.String(key))
	return d
}

// Int is a whole-number setting's value.
func (r Reader) Int(key string) int {
	n, _ := strconv.Atoi(r.String(key))
	return n
}

// List reports whether the setting takes several values (a repeatable flag, a YAML list).
func (s Setting) List() bool { return s.Kind == URLs }

// Usage is the setting's help with its bounds and kind, for a flag's usage line.
func (s Setting) Usage() string {
	u := s.Help
	switch {
	case s.Min != "" && s.Max != "":
		u += fmt.Sprintf(" (%s..%s)", s.Min, s.Max)
	case s.Min != "":
		u += fmt.Sprintf(" (at least %s)", s.Min)
	case s.Max != "":
		u += fmt.Sprintf(" (at most %s)", s.Max)
	}
	if s.List() {
		u += "; repeatable"
	}
	if s.PerTenant {
		u += "; a tenant's entry in the config file may set its own"
	}
	return u
}
