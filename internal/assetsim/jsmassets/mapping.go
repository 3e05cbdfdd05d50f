package jsmassets

import (
	"fmt"
	"sort"
)

// document is a schema-and-mapping body, as the 2023_10_19 JSON schema defines it. Pointers tell a required field
// left out from one given empty.
type document struct {
	Schema struct {
		ObjectSchema struct {
			Name        string       `json:"name"`
			Description *string      `json:"description"`
			ObjectTypes []objectType `json:"objectTypes"`
		} `json:"objectSchema"`
		StatusSchema *struct {
			Statuses []struct {
				Name        string  `json:"name"`
				Description *string `json:"description"`
				Category    string  `json:"category"`
			} `json:"statuses"`
		} `json:"statusSchema,omitempty"`
	} `json:"schema"`
	Mapping struct {
		ObjectTypeMappings []typeMapping `json:"objectTypeMappings"`
	} `json:"mapping"`
}

type objectType struct {
	ExternalID  string       `json:"externalId,omitempty"`
	Name        string       `json:"name"`
	Description *string      `json:"description"`
	IconKey     string       `json:"iconKey,omitempty"`
	Attributes  []attribute  `json:"attributes,omitempty"`
	Children    []objectType `json:"children,omitempty"`
}

type attribute struct {
	ExternalID                    string   `json:"externalId,omitempty"`
	Name                          string   `json:"name"`
	Description                   *string  `json:"description"`
	Type                          string   `json:"type"`
	TypeValues                    []string `json:"typeValues,omitempty"`
	Label                         bool     `json:"label,omitempty"`
	Unique                        *bool    `json:"unique,omitempty"`
	MinimumCardinality            *int     `json:"minimumCardinality,omitempty"`
	MaximumCardinality            *int     `json:"maximumCardinality,omitempty"`
	ReferenceObjectTypeName       string   `json:"referenceObjectTypeName,omitempty"`
	ReferenceObjectTypeExternalID string   `json:"referenceObjectTypeExternalId,omitempty"`
}

type typeMapping struct {
	ObjectTypeExternalID string         `json:"objectTypeExternalId,omitempty"`
	ObjectTypeName       string         `json:"objectTypeName"`
	Selector             string         `json:"selector"`
	Description          *string        `json:"description"`
	AttributesMapping    []attributeMap `json:"attributesMapping"`
}

type attributeMap struct {
	AttributeExternalID string   `json:"attributeExternalId,omitempty"`
	AttributeName       string   `json:"attributeName"`
	AttributeLocators   []string `json:"attributeLocators"`
	ExternalIDPart      bool     `json:"externalIdPart,omitempty"`
	ObjectMappingIQL    string   `json:"objectMappingIQL,omitempty"`
}

// model is the import source's schema and mapping once accepted: object types (children flattened, each knowing
// its parent) and one mapping per object type.
type model struct {
	name, description string
	types             []*typeDef
	mappings          map[*typeDef]*mappingDef
	statuses          map[string]bool
	nextSeq           int
}

type typeDef struct {
	externalID, name, description string
	parent                        *typeDef
	attrs                         []*attrDef
	seq                           int // the object type id results are keyed by
}

type attrDef struct {
	externalID, name, description, typ string
	typeValues                         []string
	label                              bool
	unique                             *bool
	minCard, maxCard                   *int
	refExternalID, refName             string
	refType                            *typeDef
}

type mappingDef struct {
	typ         *typeDef
	selector    string
	description string
	attrs       []*attrMapDef
}

type attrMapDef struct {
	owner          *typeDef
	attr           *attrDef
	locators       []string
	externalIDPart bool
	iql            string
}

// build accepts a PUT body: everything the 2023_10_19 definition requires, externalIds on every object type and
// attribute or on none, uniqueness and cardinality only with externalIds, references and mappings naming what the
// schema defines.
func build(d *document) (*model, error) {
	os := &d.Schema.ObjectSchema
	if os.Name == "" || os.Description == nil || len(os.ObjectTypes) == 0 {
		return nil, fmt.Errorf("schema.objectSchema needs name, description and at least one object type")
	}
	m := &model{name: os.Name, description: *os.Description, mappings: map[*typeDef]*mappingDef{}, statuses: map[string]bool{}}
	if err := m.addTypes(os.ObjectTypes, nil); err != nil {
		return nil, err
	}
	if err := m.complete(d); err != nil {
		return nil, err
	}
	return m, nil
}

// patch applies a PATCH body to a copy of the model, as the schema-and-mapping guide allows: object types and
// attributes found by externalId keep their name, type and referenced type (descriptions may change), new ones are
// added, and each mapping given replaces that object type's mapping. Nothing is deleted.
func (m *model) patch(d *document) (*model, error) {
	next := m.clone()
	if err := next.patchTypes(d.Schema.ObjectSchema.ObjectTypes, nil); err != nil {
		return nil, err
	}
	if d.Schema.ObjectSchema.Description != nil {
		next.description = *d.Schema.ObjectSchema.Description
	}
	if err := next.complete(d); err != nil {
		return nil, err
	}
	return next, nil
}

// complete adds d's statuses, resolves the references between object types and sets d's mappings: what a new
// model and a patched one both do once their object types are in.
func (m *model) complete(d *document) error {
	if err := m.addStatuses(d); err != nil {
		return err
	}
	if err := m.link(); err != nil {
		return err
	}
	return m.setMappings(d.Mapping.ObjectTypeMappings)
}

func (m *model) clone() *model {
	c := &model{name: m.name, description: m.description, mappings: map[*typeDef]*mappingDef{}, statuses: map[string]bool{}, nextSeq: m.nextSeq}
	old := map[*typeDef]*typeDef{}
	oldAttr := map[*attrDef]*attrDef{}
	for _, t := range m.types {
		nt := *t
		nt.attrs = nil
		for _, a := range t.attrs {
			na := *a
			nt.attrs = append(nt.attrs, &na)
			oldAttr[a] = &na
		}
		old[t] = &nt
		c.types = append(c.types, &nt)
	}
	for _, t := range c.types {
		if t.parent != nil {
			t.parent = old[t.parent]
		}
	}
	for t, md := range m.mappings {
		nm := &mappingDef{typ: old[t], selector: md.selector, description: md.description}
		for _, am := range md.attrs {
			nam := *am
			nam.attr, nam.owner = oldAttr[am.attr], old[am.owner]
			nm.attrs = append(nm.attrs, &nam)
		}
		c.mappings[old[t]] = nm
	}
	for s := range m.statuses {
		c.statuses[s] = true
	}
	return c
}

func (m *model) addTypes(ts []objectType, parent *typeDef) error {
	for _, t := range ts {
		td, err := m.newType(t, parent)
		if err != nil {
			return err
		}
		if err := m.addTypes(t.Children, td); err != nil {
			return err
		}
	}
	return nil
}

func (m *model) newType(t objectType, parent *typeDef) (*typeDef, error) {
	if t.Name == "" || t.Description == nil {
		return nil, fmt.Errorf("object type %q: name and description are required", t.Name)
	}
	for _, o := range m.types {
		if o.name == t.Name {
			return nil, fmt.Errorf("object type %q is defined twice", t.Name)
		}
		if t.ExternalID != "" && o.externalID == t.ExternalID {
			return nil, fmt.Errorf("object type externalId %q is used twice", t.ExternalID)
		}
	}
	m.nextSeq++
	td := &typeDef{externalID: t.ExternalID, name: t.Name, description: *t.Description, parent: parent, seq: 1000 + m.nextSeq}
	for _, a := range t.Attributes {
		ad, err := newAttr(td, a)
		if err != nil {
			return nil, err
		}
		td.attrs = append(td.attrs, ad)
	}
	m.types = append(m.types, td)
	return td, nil
}

func newAttr(td *typeDef, a attribute) (*attrDef, error) {
	switch {
	case a.Name == "" || a.Description == nil || a.Type == "":
		return nil, fmt.Errorf("object type %s: attribute %q needs name, description and type", td.name, a.Name)
	case attributeTypes[a.Type] == nil:
		return nil, fmt.Errorf("object type %s: attribute %s: unknown type %q", td.name, a.Name, a.Type)
	case len(a.TypeValues) > 0 && a.Type != "status":
		return nil, fmt.Errorf("object type %s: attribute %s: typeValues are for status attributes only", td.name, a.Name)
	}
	for _, o := range td.attrs {
		if o.name == a.Name {
			return nil, fmt.Errorf("object type %s: attribute %q is defined twice", td.name, a.Name)
		}
	}
	return &attrDef{externalID: a.ExternalID, name: a.Name, description: *a.Description, typ: a.Type, typeValues: a.TypeValues,
		label: a.Label, unique: a.Unique, minCard: a.MinimumCardinality, maxCard: a.MaximumCardinality,
		refExternalID: a.ReferenceObjectTypeExternalID, refName: a.ReferenceObjectTypeName}, nil
}

// patchTypes applies a PATCH body's object types, children under their parent: one the model has is patched, a new
// one added.
func (m *model) patchTypes(ts []objectType, parent *typeDef) error {
	for _, t := range ts {
		td := find(m.types, t.ExternalID, t.Name)
		var err error
		if td == nil {
			td, err = m.newType(t, parent)
		} else {
			err = td.patch(t)
		}
		if err != nil {
			return err
		}
		if err := m.patchTypes(t.Children, td); err != nil {
			return err
		}
	}
	return nil
}

// patch changes an object type as a PATCH body gives it: its description and its attributes' may change, new
// attributes are added; its name cannot change.
func (td *typeDef) patch(t objectType) error {
	if t.Name != "" && t.Name != td.name {
		return fmt.Errorf("PATCH cannot rename object type %s (to %s)", td.name, t.Name)
	}
	if t.Description != nil {
		td.description = *t.Description
	}
	for _, a := range t.Attributes {
		if err := td.patchAttr(a); err != nil {
			return err
		}
	}
	return nil
}

// patchAttr adds an attribute the object type lacks, or changes the description of one it has; its name, type and
// referenced object type cannot change.
func (td *typeDef) patchAttr(a attribute) error {
	ad := find(td.attrs, a.ExternalID, a.Name)
	if ad == nil {
		na, err := newAttr(td, a)
		if err != nil {
			return err
		}
		td.attrs = append(td.attrs, na)
		return nil
	}
	if (a.Name != "" && a.Name != ad.name) || (a.Type != "" && a.Type != ad.typ) ||
		(a.ReferenceObjectTypeExternalID != "" && a.ReferenceObjectTypeExternalID != ad.refExternalID) {
		return fmt.Errorf("PATCH cannot change attribute %s of %s (name, type or referenced object type)", ad.name, td.name)
	}
	if a.Description != nil {
		ad.description = *a.Description
	}
	return nil
}

// definition is an object type or an attribute: what a body names by externalId or by name.
type definition interface {
	ids() (externalID, name string)
}

// find is the definition a body giving externalID and name means: by externalId when it gives one, else by name;
// the last that matches, nil when none does.
func find[T definition](defs []T, externalID, name string) T {
	var found T
	for _, d := range defs {
		if id, n := d.ids(); (externalID != "" && id == externalID) || (externalID == "" && n == name) {
			found = d
		}
	}
	return found
}

func (td *typeDef) ids() (externalID, name string) { return td.externalID, td.name }
func (ad *attrDef) ids() (externalID, name string) { return ad.externalID, ad.name }

func (m *model) addStatuses(d *document) error {
	if d.Schema.StatusSchema == nil {
		return nil
	}
	for _, st := range d.Schema.StatusSchema.Statuses {
		switch st.Category {
		case "active", "inactive", "pending":
		default:
			return fmt.Errorf("status %q: category must be active, inactive or pending", st.Name)
		}
		if len(st.Name) < 2 || len(st.Name) > 30 || st.Description == nil {
			return fmt.Errorf("status %q: a name of 2 to 30 characters and a description are required", st.Name)
		}
		m.statuses[st.Name] = true
	}
	return nil
}

// link checks the rules that span the schema: externalIds on all or none, uniqueness and cardinality only with
// them, and every reference naming an object type of the schema.
func (m *model) link() error {
	with, without := m.externalIDs()
	if with > 0 && without > 0 {
		return fmt.Errorf("externalIds must be set on every object type and attribute or on none (%d with, %d without)", with, without)
	}
	for _, t := range m.types {
		for _, a := range t.attrs {
			if without > 0 && (a.unique != nil || a.minCard != nil || a.maxCard != nil) {
				return fmt.Errorf("object type %s: attribute %s: uniqueness and cardinality can be set only when externalIds are used", t.name, a.name)
			}
			if err := m.linkReference(t, a); err != nil {
				return err
			}
		}
	}
	return nil
}

// externalIDs counts the object types and attributes with an externalId and those without.
func (m *model) externalIDs() (with, without int) {
	count := func(id string) {
		if id == "" {
			without++
		} else {
			with++
		}
	}
	for _, t := range m.types {
		count(t.externalID)
		for _, a := range t.attrs {
			count(a.externalID)
		}
	}
	return with, without
}

// linkReference finds the object type a referenced_object attribute of t references (every object type has a name,
// so a reference naming none finds none).
func (m *model) linkReference(t *typeDef, a *attrDef) error {
	a.refType = nil
	if a.typ != "referenced_object" {
		return nil
	}
	if a.refType = find(m.types, a.refExternalID, a.refName); a.refType == nil {
		return fmt.Errorf("object type %s: attribute %s references %q, which is not an object type of the schema", t.name, a.name, a.refExternalID+a.refName)
	}
	return nil
}

func (m *model) setMappings(tms []typeMapping) error {
	for _, tm := range tms {
		if tm.ObjectTypeName == "" || tm.Selector == "" || tm.Description == nil {
			return fmt.Errorf("mapping of %q: objectTypeName, selector and description are required", tm.ObjectTypeName)
		}
		td := find(m.types, tm.ObjectTypeExternalID, tm.ObjectTypeName)
		if td == nil {
			return fmt.Errorf("mapping of %q: no such object type in the schema", tm.ObjectTypeName)
		}
		md := &mappingDef{typ: td, selector: tm.Selector, description: *tm.Description}
		for _, am := range tm.AttributesMapping {
			if am.AttributeName == "" || len(am.AttributeLocators) == 0 {
				return fmt.Errorf("mapping of %s: every attribute mapping needs attributeName and attributeLocators", tm.ObjectTypeName)
			}
			ad := find(td.attrs, am.AttributeExternalID, am.AttributeName)
			if ad == nil {
				return fmt.Errorf("mapping of %s: attribute %q is not an attribute of the object type", tm.ObjectTypeName, am.AttributeName)
			}
			md.attrs = append(md.attrs, &attrMapDef{owner: td, attr: ad, locators: am.AttributeLocators, externalIDPart: am.ExternalIDPart, iql: am.ObjectMappingIQL})
		}
		m.mappings[td] = md
	}
	return nil
}

// order gives the mappings referenced types first, so a reference finds the objects this import creates.
func (m *model) order() []*mappingDef {
	var out []*mappingDef
	done := map[*typeDef]bool{}
	var visit func(t *typeDef, depth int)
	visit = func(t *typeDef, depth int) {
		if done[t] || depth > len(m.types) {
			return
		}
		done[t] = true
		for _, a := range t.attrs {
			if a.refType != nil && a.refType != t {
				visit(a.refType, depth+1)
			}
		}
		if md := m.mappings[t]; md != nil {
			out = append(out, md)
		}
	}
	for _, t := range m.types {
		visit(t, 0)
	}
	return out
}

// document is the model as GET schema-and-mapping answers it.
func (m *model) document() document {
	var d document
	d.Schema.ObjectSchema.Name = m.name
	d.Schema.ObjectSchema.Description = &m.description
	var toType func(t *typeDef) objectType
	toType = func(t *typeDef) objectType {
		desc := t.description
		ot := objectType{ExternalID: t.externalID, Name: t.name, Description: &desc}
		for _, a := range t.attrs {
			ad := a.description
			ot.Attributes = append(ot.Attributes, attribute{ExternalID: a.externalID, Name: a.name, Description: &ad, Type: a.typ,
				TypeValues: a.typeValues, Label: a.label, Unique: a.unique, MinimumCardinality: a.minCard, MaximumCardinality: a.maxCard,
				ReferenceObjectTypeName: a.refName, ReferenceObjectTypeExternalID: a.refExternalID})
		}
		for _, c := range m.types {
			if c.parent == t {
				ot.Children = append(ot.Children, toType(c))
			}
		}
		return ot
	}
	for _, t := range m.types {
		if t.parent == nil {
			d.Schema.ObjectSchema.ObjectTypes = append(d.Schema.ObjectSchema.ObjectTypes, toType(t))
		}
	}
	var mds []*mappingDef
	for _, md := range m.mappings {
		mds = append(mds, md)
	}
	sort.Slice(mds, func(i, j int) bool { return mds[i].typ.seq < mds[j].typ.seq })
	for _, md := range mds {
		desc := md.description
		tm := typeMapping{ObjectTypeExternalID: md.typ.externalID, ObjectTypeName: md.typ.name, Selector: md.selector, Description: &desc}
		for _, am := range md.attrs {
			tm.AttributesMapping = append(tm.AttributesMapping, attributeMap{AttributeExternalID: am.attr.externalID, AttributeName: am.attr.name,
				AttributeLocators: am.locators, ExternalIDPart: am.externalIDPart, ObjectMappingIQL: am.iql})
		}
		d.Mapping.ObjectTypeMappings = append(d.Mapping.ObjectTypeMappings, tm)
	}
	return d
}
