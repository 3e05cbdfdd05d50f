// Package all links the registered sync targets into seatlake: one blank import per target package, each of which
// registers its targets (target.Register in its init). pipelines imports this package, so adding a target is its
// package and one line here.
package all

import (
	_ "github.com/seatlake/seatlake/load/assets" // jsm-assets and servicenow
)
