// Package plugin is what seatlake's plugin contracts (a source, a sync target) share: the registry, a list of named
// plugins filled by their packages' init functions before main runs and only read after (as Telegraf's inputs.Add
// and Redpanda Connect's MustRegisterInput are), and the line a plugin adds to `seatlake check`.
package plugin

import (
	"fmt"
	"slices"
	"strings"
	"sync"
)

// Named is a plugin: its name is unique within its registry.
type Named interface{ Name() string }

// Registry holds one kind of plugin, in the order they registered.
type Registry[T Named] struct {
	kind string // what a plugin is, for the panic's message: "sync target"
	// check is the contract's own rules for a plugin beyond its name, given the plugins registered before it.
	check func(p T, registered []T) error
	mu    sync.RWMutex
	items []T
}

// New is an empty registry of kind; check, when set, refuses a malformed plugin (or one that collides with those
// registered before it).
func New[T Named](kind string, check func(p T, registered []T) error) *Registry[T] {
	return &Registry[T]{kind: kind, check: check}
}

// Register adds p. It panics when p's name is malformed or taken, or check refuses it: a programming error, found
// the first time the binary starts.
func (r *Registry[T]) Register(p T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.conflict(p); err != nil {
		panic(fmt.Sprintf("%s %s: %v", r.kind, p.Name(), err))
	}
	r.items = append(r.items, p)
}

func (r *Registry[T]) conflict(p T) error {
	if !ValidName(p.Name()) {
		return fmt.Errorf("name %q: want lower-case letters, digits and -", p.Name())
	}
	if r.check != nil {
		if err := r.check(p, slices.Clone(r.items)); err != nil {
			return err
		}
	}
	for _, o := range r.items {
		if o.Name() == p.Name() {
			return fmt.Errorf("registered twice")
		}
	}
	return nil
}

// All are the registered plugins, in the order they registered.
func (r *Registry[T]) All() []T {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return slices.Clone(r.items)
}

// Lookup is the plugin of that name.
func (r *Registry[T]) Lookup(name string) (T, bool) {
	for _, p := range r.All() {
		if p.Name() == name {
			return p, true
		}
	}
	var zero T
	return zero, false
}

// Names are the registered plugins' names.
func (r *Registry[T]) Names() []string {
	var out []string
	for _, p := range r.All() {
		out = append(out, p.Name())
	}
	return out
}

// ValidName reports whether n is a plugin's name (and a flag's or a key's): lower-case letters, digits and -, not
// starting with -.
func ValidName(n string) bool {
	return n != "" && strings.Trim(n, "abcdefghijklmnopqrstuvwxyz0123456789-") == "" && !strings.HasPrefix(n, "-")
}

// Check is one line a plugin adds to `seatlake check`.
type Check struct {
	Tenant string // whose set-up, "" when the plugin's check is not one tenant's
	Target string // the endpoint or environment checked
	Name   string // what was checked
	Status string // OK, Warn or Fail
	Detail string
	Action string // what to do about a warn or fail
	// Stop, on a failed line, says that nothing else of the tenant can be checked (the tenant's credential was
	// refused): the tenant's other checks are skipped, since the same cause would repeat on every line.
	Stop bool
}

// Check statuses.
const (
	OK   = "ok"
	Warn = "warn"
	Fail = "fail"
)
