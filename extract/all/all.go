// Package all links the registered sources into seatlake: one blank import per source, each of which registers
// itself (source.Register in its init). pipelines imports this package, so adding a source is its package and one
// line here. The order is the order of their tables, flags and check lines.
//
// Microsoft Graph predates the source contract and still runs on its own path in pipelines (graph.go).
package all

import (
	_ "github.com/seatlake/seatlake/extract/dataverse" // Dataverse environments: users, audit settings, audits
	_ "github.com/seatlake/seatlake/extract/finops"    // F&O environments: users, security roles, assignments
)
