// Package warm pins the project's dependencies while the packages that use them are being written.
// Delete it once every import below is used by real code.
package warm

import (
	_ "github.com/apache/arrow-go/v18/parquet/pqarrow"
	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/goccy/go-json"
	_ "github.com/urfave/cli/v2"
	_ "github.com/vbauerster/mpb/v8"
	_ "github.com/xitongsys/parquet-go-source/local"
	_ "github.com/xitongsys/parquet-go/reader"
	_ "golang.org/x/oauth2/clientcredentials"
	_ "golang.org/x/sync/errgroup"
	_ "golang.org/x/term"
	_ "gopkg.in/yaml.v3"
)
