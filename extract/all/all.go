// Package all links the sources into seatlake: one Register line per source, in the order of their tables, flags
// and check lines (Microsoft Graph first: its token check stops a tenant's other checks when it fails). pipelines
// imports this package, so adding a source is its package and one line here.
//
// The lines are here rather than in each source's init: Go initializes packages in the order of their import paths,
// not of the imports, so only one init can give the sources an order.
package all

import (
	"github.com/seatlake/seatlake/extract/dataverse"
	"github.com/seatlake/seatlake/extract/finops"
	"github.com/seatlake/seatlake/extract/graph"
	"github.com/seatlake/seatlake/extract/source"
)

func init() {
	source.Register(graph.Source{})     // Microsoft Graph: users, licenses, groups, SKUs, report settings, usage, sign-ins
	source.Register(dataverse.Source{}) // Dataverse environments: users, audit settings, audits
	source.Register(finops.Source{})    // F&O environments: users, security roles, assignments
}
