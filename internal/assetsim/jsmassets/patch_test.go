package jsmassets

import (
	"encoding/json"
	"strings"
	"testing"
)

// PATCH, change by change on the guide's reference example: what it may change (descriptions), add (attributes,
// object types, child types) and the exact refusal of what it may not (names, attribute types, referenced types, an
// invalid new attribute or type). A refused PATCH leaves the model as it was.
func TestPatchChanges(t *testing.T) {
	base := string(golden(t, "docs-mapping-reference.json"))
	parse := func(s string) *document {
		t.Helper()
		var d document
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			t.Fatal(err)
		}
		return &d
	}
	for _, tc := range []struct {
		name     string
		old, new string // replaced in the PUT body to make the PATCH body
		err      string
		has      []string // in the schema and mapping after the PATCH
	}{
		{"type description", `"A hard drive found during scanning"`, `"Disks"`, "", []string{`"description":"Disks"`}},
		{"attribute description", `"Hard drive label"`, `"The label"`, "", []string{`"description":"The label"`}},
		{"new attribute", `"type": "text",
              "label": true
            },`, `"type": "text",
              "label": true
            },
            {"externalId": "object-type-attribute/size", "name": "Size", "description": "d", "type": "integer"},`, "",
			[]string{`"externalId":"object-type-attribute/size","name":"Size","description":"d","type":"integer"`}},
		{"new child type", `"name": "Hard Drive",`, `"name": "Hard Drive",
          "children": [{"externalId": "object-type/file", "name": "File", "description": "d",
            "attributes": [{"externalId": "object-type-attribute/path", "name": "Path", "description": "d", "type": "text", "label": true}]}],`, "",
			[]string{`"children":[{"externalId":"object-type/file","name":"File"`}},
		{"renaming a type", `"name": "Hard Drive",`, `"name": "Disk",`, "PATCH cannot rename object type Hard Drive (to Disk)", nil},
		{"renaming an attribute", `"name": "DUID",`, `"name": "UID",`,
			"PATCH cannot change attribute DUID of Hard Drive (name, type or referenced object type)", nil},
		{"changing an attribute's type", `"Disk Label",
              "description": "Hard drive label",
              "type": "text"`, `"Disk Label",
              "description": "Hard drive label",
              "type": "textarea"`, "PATCH cannot change attribute Disk Label of Hard Drive (name, type or referenced object type)", nil},
		{"changing a referenced type", `"referenceObjectTypeExternalId": "object-type/operating-system"`, `"referenceObjectTypeExternalId": "object-type/hard-drive"`,
			"PATCH cannot change attribute Operating System of Hard Drive (name, type or referenced object type)", nil},
		{"an invalid new attribute", `"type": "text",
              "label": true
            },`, `"type": "text",
              "label": true
            },
            {"externalId": "object-type-attribute/x", "name": "X", "description": "d", "type": "user"},`,
			`object type Hard Drive: attribute X: unknown type "user"`, nil},
		{"an invalid new type", `"name": "Hard Drive",`, `"name": "Hard Drive",
          "children": [{"externalId": "object-type/file", "name": "File"}],`, `object type "File": name and description are required`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := build(parse(base))
			if err != nil {
				t.Fatal(err)
			}
			before, _ := json.Marshal(m.document())
			if !strings.Contains(base, tc.old) {
				t.Fatalf("the example has no %s", tc.old)
			}
			next, err := m.patch(parse(strings.Replace(base, tc.old, tc.new, 1)))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tc.err {
				t.Fatalf("PATCH: %q, want %q", gotErr, tc.err)
			}
			if after, _ := json.Marshal(m.document()); string(after) != string(before) {
				t.Errorf("the PATCH changed the model it was applied to:\n%s\n%s", before, after)
			}
			if next == nil {
				return
			}
			got, _ := json.Marshal(next.document())
			for _, want := range tc.has {
				if !strings.Contains(string(got), want) {
					t.Errorf("after the PATCH the schema and mapping lack %s: %s", want, got)
				}
			}
		})
	}
}

// A reference naming no object type, by externalId or by name, is refused when the mapping is put.
func TestReferenceNamingNothing(t *testing.T) {
	body := strings.Replace(string(golden(t, "docs-mapping-reference.json")), `"referenceObjectTypeExternalId": "object-type/operating-system"`, `"referenceObjectTypeName": ""`, 1)
	var d document
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	want := `object type Hard Drive: attribute Operating System references "", which is not an object type of the schema`
	if _, err := build(&d); err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}
