package assets

import "strings"

// The Assets object schema seatlake imports into: Person, Subscription and License Assignment, with externalIds on
// every object type and attribute (so the 2023_10_19 schema applies, and uniqueness can be set), the assignment
// referencing its Person and its Subscription by their key attributes. Identities are stable ids: the Entra
// object id, the SKU id, and the pair.

const schemaURL = "https://api.atlassian.com/jsm/assets/imports/external/schema/versions/2021_09_15"

type attr struct {
	id, name, typ, ref, locator, iql, desc string
	key                                    bool
}

type objType struct {
	id, name, selector, desc string
	attrs                    []attr
}

var objectTypes = []objType{
	{"seatlake/person", "Person", "persons", "A person in Entra ID, as seatlake last saw them", []attr{
		{id: "seatlake/person/entra-id", name: "Entra object id", typ: "text", locator: "id", key: true, desc: "Entra ID user object id"},
		{id: "seatlake/person/upn", name: "User principal name", typ: "text", locator: "upn", desc: "UPN"},
		{id: "seatlake/person/display-name", name: "Display name", typ: "text", locator: "displayName", desc: "Display name"},
		{id: "seatlake/person/department", name: "Department", typ: "text", locator: "department", desc: "Department"},
		{id: "seatlake/person/enabled", name: "Enabled", typ: "boolean", locator: "enabled", desc: "The account can sign in"},
		{id: "seatlake/person/dynamics-users", name: "Dynamics users", typ: "textarea", locator: "dynamicsUsers", desc: "The person's Dataverse and F&O accounts (environment: account)"},
	}},
	{"seatlake/subscription", "Subscription", "subscriptions", "A subscribed SKU and its seats", []attr{
		{id: "seatlake/subscription/sku-id", name: "SKU id", typ: "text", locator: "skuId", key: true, desc: "skuId"},
		{id: "seatlake/subscription/part", name: "Part number", typ: "text", locator: "part", desc: "skuPartNumber"},
		{id: "seatlake/subscription/product", name: "Product", typ: "text", locator: "product", desc: "The product the rules map it to"},
		{id: "seatlake/subscription/purchased", name: "Purchased", typ: "integer", locator: "purchased", desc: "prepaidUnits.enabled + warning"},
		{id: "seatlake/subscription/assigned", name: "Assigned", typ: "integer", locator: "assigned", desc: "consumedUnits"},
		{id: "seatlake/subscription/active", name: "Active", typ: "integer", locator: "active", desc: "Assigned and in use"},
		{id: "seatlake/subscription/available", name: "Available", typ: "integer", locator: "available", desc: "Purchased - assigned"},
		{id: "seatlake/subscription/price", name: "Monthly price", typ: "double", locator: "monthlyPrice", desc: "From the price list"},
	}},
	{"seatlake/assignment", "License Assignment", "assignments", "A license assigned to a person, with its usage", []attr{
		{id: "seatlake/assignment/key", name: "Key", typ: "text", locator: "userId skuId", key: true, desc: "Entra object id and SKU id"},
		{id: "seatlake/assignment/person", name: "Person", typ: "referenced_object", ref: "seatlake/person", locator: "userId", iql: `"Entra object id" = ${userId}`, desc: "Who holds it"},
		{id: "seatlake/assignment/subscription", name: "Subscription", typ: "referenced_object", ref: "seatlake/subscription", locator: "skuId", iql: `"SKU id" = ${skuId}`, desc: "Which SKU"},
		{id: "seatlake/assignment/status", name: "Status", typ: "text", locator: "status", desc: "active, low_usage, never_used, disabled_user_licensed, grace_period, excluded, review_only"},
		{id: "seatlake/assignment/last-activity", name: "Last activity", typ: "date_time", locator: "lastActivity", desc: "The latest evidence of use"},
		{id: "seatlake/assignment/evidence", name: "Evidence", typ: "text", locator: "evidence", desc: "What gave the last activity"},
		{id: "seatlake/assignment/days-inactive", name: "Days inactive", typ: "integer", locator: "daysInactive", desc: "Days since the last activity"},
		{id: "seatlake/assignment/reason", name: "Reason", typ: "textarea", locator: "reason", desc: "Why this status, in one sentence"},
		{id: "seatlake/assignment/monthly-cost", name: "Monthly cost", typ: "double", locator: "monthlyCost", desc: "From the price list"},
		{id: "seatlake/assignment/reclaim", name: "Reclaim candidate", typ: "boolean", locator: "reclaimCandidate", desc: "seatlake recommends removing it"},
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
