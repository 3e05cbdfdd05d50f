package assets

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// The Assets object schema seatlake imports into: Person, Subscription and License Assignment, with externalIds on
// every object type and attribute, the assignment referencing its Person and its Subscription by their key
// attributes. Identities are stable ids: the Entra object id, the SKU id, and the pair. Every fact this relies on is
// in internal/assetsim/jsmassets/testdata/README.md with its source.

// schemaURL is the JSON schema the document conforms to. ExternalIds, uniqueness and cardinality exist only in the
// 2023_10_19 definition (the 2021_09_15 one has none of them), and this is that definition's own $id.
const schemaURL = "https://api.atlassian.com/jsm/insight/imports/external/schema/versions/2023_10_19"

// Attribute types of the 2023_10_19 definition that seatlake uses, and the JSON form each value is sent in.
const (
	typeText     = "text"              // a JSON string
	typeTextarea = "textarea"          // a JSON string
	typeInteger  = "integer"           // a JSON number, whole, within Assets' 32-bit range
	typeDouble   = "double"            // a JSON number
	typeBoolean  = "boolean"           // true or false
	typeDateTime = "date_time"         // an ISO 8601 (RFC 3339) string in UTC
	typeRef      = "referenced_object" // a JSON string, interpolated into the attribute's objectMappingIQL
)

type attr struct {
	id, name, typ, ref, locator, iql, desc string
	key                                    bool
}

type objType struct {
	id, name, selector, desc string
	attrs                    []attr
	// each reads the type's rows of a send, handing f each one as raw values by locator (a nil value is unknown and
	// is omitted), made as it is sent: a sync holds one request's rows as maps, not the tenant's.
	each func(ctx context.Context, rows Rows, f func(raw map[string]any) error) error
}

var objectTypes = []objType{
	{"seatlake/person", "Person", "persons", "A person in Entra ID, as seatlake last saw them", []attr{
		{id: "seatlake/person/entra-id", name: "Entra object id", typ: typeText, locator: "id", key: true, desc: "Entra ID user object id"},
		{id: "seatlake/person/upn", name: "User principal name", typ: typeText, locator: "upn", desc: "UPN"},
		{id: "seatlake/person/display-name", name: "Display name", typ: typeText, locator: "displayName", desc: "Display name"},
		{id: "seatlake/person/department", name: "Department", typ: typeText, locator: "department", desc: "Department"},
		{id: "seatlake/person/enabled", name: "Enabled", typ: typeBoolean, locator: "enabled", desc: "The account can sign in"},
		{id: "seatlake/person/dynamics-users", name: "Dynamics users", typ: typeTextarea, locator: "dynamicsUsers", desc: "The person's Dataverse and F&O accounts (environment: account)"},
	}, func(ctx context.Context, rows Rows, f func(map[string]any) error) error {
		return rows.EachPerson(ctx, func(p Person) error {
			return f(map[string]any{"id": p.ID, "upn": p.UPN, "displayName": p.DisplayName, "department": p.Department,
				"enabled": p.Enabled, "dynamicsUsers": p.DynamicsUsers})
		})
	}},
	{"seatlake/subscription", "Subscription", "subscriptions", "A subscribed SKU and its seats", []attr{
		{id: "seatlake/subscription/sku-id", name: "SKU id", typ: typeText, locator: "skuId", key: true, desc: "skuId"},
		{id: "seatlake/subscription/part", name: "Part number", typ: typeText, locator: "part", desc: "skuPartNumber"},
		{id: "seatlake/subscription/product-name", name: "Product name", typ: typeText, locator: "productName", desc: "Microsoft's product name of the SKU"},
		{id: "seatlake/subscription/product", name: "Product", typ: typeText, locator: "product", desc: "The product the rules map it to"},
		{id: "seatlake/subscription/purchased", name: "Purchased", typ: typeInteger, locator: "purchased", desc: "prepaidUnits.enabled + warning"},
		{id: "seatlake/subscription/assigned", name: "Assigned", typ: typeInteger, locator: "assigned", desc: "consumedUnits"},
		{id: "seatlake/subscription/active", name: "Active", typ: typeInteger, locator: "active", desc: "Assigned and in use"},
		{id: "seatlake/subscription/available", name: "Available", typ: typeInteger, locator: "available", desc: "Purchased - assigned"},
		{id: "seatlake/subscription/price", name: "Monthly price", typ: typeDouble, locator: "monthlyPrice", desc: "From the price list"},
	}, func(ctx context.Context, rows Rows, f func(map[string]any) error) error {
		return rows.EachSubscription(ctx, func(s Subscription) error {
			return f(map[string]any{"skuId": s.SkuID, "part": s.Part, "productName": s.ProductName, "product": s.Product, "purchased": s.Purchased,
				"assigned": s.Assigned, "active": s.Active, "available": s.Available, "monthlyPrice": s.MonthlyPrice})
		})
	}},
	{"seatlake/assignment", "License Assignment", "assignments", "A license assigned to a person, with its usage", []attr{
		{id: "seatlake/assignment/key", name: "Key", typ: typeText, locator: "userId skuId", key: true, desc: "Entra object id and SKU id"},
		{id: "seatlake/assignment/person", name: "Person", typ: typeRef, ref: "seatlake/person", locator: "userId", iql: `"Entra object id" = ${userId}`, desc: "Who holds it"},
		{id: "seatlake/assignment/subscription", name: "Subscription", typ: typeRef, ref: "seatlake/subscription", locator: "skuId", iql: `"SKU id" = ${skuId}`, desc: "Which SKU"},
		{id: "seatlake/assignment/product-name", name: "Product name", typ: typeText, locator: "productName", desc: "Microsoft's product name of the SKU"},
		{id: "seatlake/assignment/status", name: "Status", typ: typeText, locator: "status", desc: "active, low_usage, never_used, disabled_user_licensed, grace_period, excluded, review_only"},
		{id: "seatlake/assignment/last-activity", name: "Last activity", typ: typeDateTime, locator: "lastActivity", desc: "The latest evidence of use"},
		{id: "seatlake/assignment/evidence", name: "Evidence", typ: typeText, locator: "evidence", desc: "What gave the last activity"},
		{id: "seatlake/assignment/days-inactive", name: "Days inactive", typ: typeInteger, locator: "daysInactive", desc: "Days since the last activity"},
		{id: "seatlake/assignment/reason", name: "Reason", typ: typeTextarea, locator: "reason", desc: "Why this status, in one sentence"},
		{id: "seatlake/assignment/monthly-cost", name: "Monthly cost", typ: typeDouble, locator: "monthlyCost", desc: "From the price list"},
		{id: "seatlake/assignment/reclaim", name: "Reclaim candidate", typ: typeBoolean, locator: "reclaimCandidate", desc: "seatlake recommends removing it"},
		{id: "seatlake/assignment/under-licensed", name: "Under-licensed", typ: typeBoolean, locator: "underLicensed", desc: "The user's F&O roles require a higher license than the one held"},
		{id: "seatlake/assignment/required-license", name: "Required license", typ: typeText, locator: "requiredLicense", desc: "For F&O licenses: the tier the user's roles require"},
		{id: "seatlake/assignment/true-up", name: "True-up monthly cost", typ: typeDouble, locator: "trueUpMonthlyCost", desc: "What the required license costs a month more (0 when not under-licensed)"},
		{id: "seatlake/assignment/action", name: "Action", typ: typeText, locator: "action", desc: "remove license, remove from group, assign <tier>, downgrade to <license>, or none"},
	}, func(ctx context.Context, rows Rows, f func(map[string]any) error) error {
		return rows.EachAssignment(ctx, func(a Assignment) error {
			var days any // unknown: left out
			if a.DaysInactive != nil {
				days = *a.DaysInactive
			}
			return f(map[string]any{"userId": a.UserID, "skuId": a.SkuID, "productName": a.ProductName, "status": a.Status, "lastActivity": a.LastActivity,
				"evidence": a.Evidence, "daysInactive": days, "reason": a.Reason, "monthlyCost": a.MonthlyCost,
				"reclaimCandidate": a.ReclaimCandidate, "underLicensed": a.UnderLicensed, "requiredLicense": a.RequiredLicense,
				"trueUpMonthlyCost": a.TrueUpMonthlyCost, "action": cmp.Or(a.Action, noAction)})
		})
	}},
}

// ObjectType names one of seatlake's object types and the selector its rows are sent under.
type ObjectType struct{ Selector, Name string }

// Types are seatlake's object types, in the order a sync sends them (referenced types first).
func Types() []ObjectType {
	out := make([]ObjectType, len(objectTypes))
	for i, t := range objectTypes {
		out[i] = ObjectType{t.selector, t.name}
	}
	return out
}

// Mapping is the schema-and-mapping document seatlake puts on the import source.
func Mapping() map[string]any {
	var types, maps []any
	for _, t := range objectTypes {
		var attrs, am []any
		for _, a := range t.attrs {
			at := map[string]any{"externalId": a.id, "name": a.name, "description": a.desc, "type": a.typ}
			if a.key {
				at["label"], at["unique"] = true, true
			}
			if a.ref != "" {
				at["referenceObjectTypeExternalId"] = a.ref
				at["minimumCardinality"], at["maximumCardinality"] = 1, 1
			}
			attrs = append(attrs, at)
			m := map[string]any{"attributeExternalId": a.id, "attributeName": a.name, "attributeLocators": strings.Fields(a.locator)}
			if a.key {
				m["externalIdPart"] = true
			}
			if a.iql != "" {
				m["objectMappingIQL"] = a.iql
			}
			am = append(am, m)
		}
		types = append(types, map[string]any{"externalId": t.id, "name": t.name, "description": t.desc, "attributes": attrs})
		maps = append(maps, map[string]any{"objectTypeExternalId": t.id, "objectTypeName": t.name, "selector": t.selector,
			"description": t.desc, "attributesMapping": am})
	}
	return map[string]any{
		"$schema": schemaURL,
		"schema": map[string]any{"objectSchema": map[string]any{"name": "seatlake", "description": "Microsoft 365 and Dynamics 365 licenses and their use, from seatlake",
			"objectTypes": types}},
		"mapping": map[string]any{"objectTypeMappings": maps},
	}
}

// checkObjects puts every object of a send in the form it is sent, each attribute value in the JSON form its type
// takes and an unknown or empty value left out (Assets refuses an empty string for a typed attribute), before
// anything is sent: a value seatlake cannot put in its type's form, or an object without its identity, is an error
// naming the object, and nothing is sent then. The objects themselves are made again a request at a time
// (eachObject), as the rows are read again.
func checkObjects(ctx context.Context, rows Rows) error {
	for _, t := range objectTypes {
		if err := eachObject(ctx, t, rows, func(map[string]any) error { return nil }); err != nil {
			return err
		}
	}
	return nil
}

// typeOf is the object type of a selector.
func typeOf(selector string) (objType, bool) {
	for _, t := range objectTypes {
		if t.selector == selector {
			return t, true
		}
	}
	return objType{}, false
}

// eachObject hands f every object of type t in rows, in the form it is sent.
func eachObject(ctx context.Context, t objType, rows Rows, f func(obj map[string]any) error) error {
	i := 0
	return t.each(ctx, rows, func(raw map[string]any) error {
		i++
		obj, err := encode(t, i, raw)
		if err != nil {
			return err
		}
		return f(obj)
	})
}

// encode is the i-th object (from 1) of type t, raw, in the form it is sent.
func encode(t objType, i int, raw map[string]any) (map[string]any, error) {
	obj := map[string]any{}
	for _, a := range t.attrs {
		for _, loc := range strings.Fields(a.locator) {
			if _, done := obj[loc]; done {
				continue
			}
			v, err := typed(a.typ, raw[loc])
			if err != nil {
				return nil, fmt.Errorf("%s %d (%v): attribute %q: %w", t.name, i, identity(t, raw), a.name, err)
			}
			if v != nil {
				obj[loc] = v
			}
		}
		if a.key {
			for _, loc := range strings.Fields(a.locator) {
				if obj[loc] == nil {
					return nil, fmt.Errorf("%s %d: its identity %q (%s) is empty: Assets could not tell it from another", t.name, i, a.name, loc)
				}
			}
		}
	}
	return obj, nil
}

func identity(t objType, raw map[string]any) string {
	var parts []string
	for _, a := range t.attrs {
		if a.key {
			for _, loc := range strings.Fields(a.locator) {
				parts = append(parts, fmt.Sprint(raw[loc]))
			}
		}
	}
	return strings.Join(parts, " ")
}

// typed puts a raw row value in the JSON form of an attribute type; nil means leave the attribute out.
func typed(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case typeText, typeTextarea, typeRef:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%T is not text", v)
		}
		if s == "" {
			return nil, nil
		}
		return s, nil
	case typeInteger:
		n, ok := v.(int64)
		if !ok {
			return nil, fmt.Errorf("%T is not an integer", v)
		}
		if n < math.MinInt32 || n > math.MaxInt32 {
			return nil, fmt.Errorf("%d is outside the range of an Assets integer", n)
		}
		return n, nil
	case typeDouble:
		f, ok := v.(float64)
		if !ok || math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, fmt.Errorf("%v is not a number", v)
		}
		return f, nil
	case typeBoolean:
		b, ok := v.(bool)
		if !ok {
			return nil, fmt.Errorf("%T is not a boolean", v)
		}
		return b, nil
	case typeDateTime:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("%T is not a date and time", v)
		}
		if s == "" {
			return nil, nil
		}
		ts, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an RFC 3339 date and time", s)
		}
		return ts.UTC().Format(time.RFC3339), nil
	}
	return nil, fmt.Errorf("seatlake sends no value of type %q", typ)
}
