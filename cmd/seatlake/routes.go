package main

import (
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/seatlake/seatlake/pipelines"
)

// routeKeys are the keys a route of events.routes may have: its conditions, then its actions.
var routeKeys = []string{"business-event-id", "legal-entity", "environment", "fields", "actions"}

// readRoutes reads events.routes: each a mapping of conditions (business-event-id, legal-entity, environment,
// fields) and actions. The older key event-id (the column is business_event_id; event_id is another one) is still
// read, with a warning.
func readRoutes(n *yaml.Node) ([]pipelines.Route, []string, error) {
	if n.Kind != yaml.SequenceNode {
		return nil, nil, fmt.Errorf("events.routes (line %d): want a list of routes", n.Line)
	}
	out := []pipelines.Route{}
	var warnings []string
	for i, rn := range n.Content {
		r, warned, err := readRoute(i, rn)
		if err != nil {
			return nil, nil, err
		}
		warnings = append(warnings, warned...)
		out = append(out, r)
	}
	return out, warnings, nil
}

// readRoute reads the route at index i of events.routes, key by key in the file's order, then checks its actions.
func readRoute(i int, rn *yaml.Node) (pipelines.Route, []string, error) {
	var r pipelines.Route
	if rn.Kind != yaml.MappingNode {
		return r, nil, fmt.Errorf("events.routes[%d] (line %d): want a mapping (%s)", i, rn.Line, strings.Join(routeKeys, ", "))
	}
	var warnings []string
	for k := 0; k+1 < len(rn.Content); k += 2 {
		kn, val := rn.Content[k], rn.Content[k+1]
		key, warning, err := routeKey(i, rn, kn)
		if err != nil {
			return r, nil, err
		}
		if warning != "" {
			warnings = append(warnings, warning)
		}
		if err := setRouteKey(&r, fmt.Sprintf("events.routes[%d].%s", i, kn.Value), key, val); err != nil {
			return r, nil, err
		}
	}
	if err := checkRouteActions(i, rn, r.Actions); err != nil {
		return r, nil, err
	}
	return r, warnings, nil
}

// routeKey is the key kn of route i stands for. event-id is read as business-event-id, its newer name, with a
// warning (an error when the route gives both); a key a route does not have is an error suggesting the nearest.
func routeKey(i int, route, kn *yaml.Node) (key, warning string, err error) {
	key = kn.Value
	if key == "event-id" {
		if slices.ContainsFunc(route.Content, func(o *yaml.Node) bool { return o.Value == "business-event-id" }) {
			return "", "", fmt.Errorf("events.routes[%d]: key \"event-id\" (line %d): give business-event-id only (event-id is its older name)", i, kn.Line)
		}
		warning = fmt.Sprintf("events.routes[%d]: key \"event-id\" (line %d) is the older name of business-event-id (the column business_event_id): rename it", i, kn.Line)
		key = "business-event-id"
	}
	if !slices.Contains(routeKeys, key) {
		hint := pipelines.Suggest(key, routeKeys)
		if hint == "" && pipelines.Suggest(key, []string{"event-id"}) != "" {
			hint = `, did you mean "business-event-id"?`
		}
		return "", "", fmt.Errorf("events.routes[%d]: unknown key %q (line %d)%s", i, key, kn.Line, hint)
	}
	return key, warning, nil
}

// setRouteKey sets the route's key from its value; where is the key as the file spells it, for messages.
func setRouteKey(r *pipelines.Route, where, key string, val *yaml.Node) error {
	var err error
	switch key {
	case "business-event-id":
		r.BusinessEventID, err = scalar(where, val, "an event's BusinessEventId, e.g. BusinessEventsAlertEvent")
	case "legal-entity":
		r.LegalEntity, err = scalar(where, val, "a legal entity (DataAreaId), e.g. USMF")
	case "environment":
		r.Environment, err = scalar(where, val, "an F&O environment's name, e.g. contoso-prod")
	case "fields":
		r.Fields, err = routeFields(where, val)
	case "actions":
		var actions []string
		actions, err = routeActions(where, val)
		r.Actions = append(r.Actions, actions...)
	}
	return err
}

// routeFields reads a route's fields condition: a mapping of the event's fields to one value each.
func routeFields(where string, val *yaml.Node) (map[string]string, error) {
	if val.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("key %q (line %d): want a mapping of the event's fields to values, e.g. {TableName: UserInfo}", where, val.Line)
	}
	fields := map[string]string{}
	for f := 0; f+1 < len(val.Content); f += 2 {
		name := val.Content[f].Value
		v, err := scalar(where+"."+name, val.Content[f+1], "a value")
		if err != nil {
			return nil, err
		}
		fields[name] = v
	}
	return fields, nil
}

// routeActions reads a route's actions: one action or a list of them. Whether each is an action is checked once
// the route is read (checkRouteActions), so that a route without any is told so first.
func routeActions(where string, val *yaml.Node) ([]string, error) {
	items := []*yaml.Node{val}
	if val.Kind == yaml.SequenceNode {
		items = val.Content
	}
	var actions []string
	for _, a := range items {
		v, err := scalar(where, a, strings.Join(pipelines.RouteActions, " or "))
		if err != nil {
			return nil, err
		}
		actions = append(actions, v)
	}
	return actions, nil
}

// checkRouteActions checks that route i (the node rn) has actions and that each is one pipelines knows.
func checkRouteActions(i int, rn *yaml.Node, actions []string) error {
	want := strings.Join(pipelines.RouteActions, " or ")
	if len(actions) == 0 {
		return fmt.Errorf("events.routes[%d] (line %d): no actions: want %s", i, rn.Line, want)
	}
	for _, a := range actions {
		if !slices.Contains(pipelines.RouteActions, a) {
			return fmt.Errorf("events.routes[%d] (line %d): action %q: want %s", i, rn.Line, a, want)
		}
	}
	return nil
}
