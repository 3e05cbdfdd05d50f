// Package all links the registered sources into seatlake: one blank import per source, each of which registers
// itself (source.Register in its init). pipelines imports this package, so adding a source is its package and one
// line here.
//
// Graph, Dataverse and F&O predate the source contract and still run on their own paths in pipelines; they move
// here as they are ported onto it.
package all
