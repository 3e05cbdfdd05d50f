-- The declaration's documentation, visible in duckdb_views() and duckdb_columns().
{{if .Doc}}COMMENT ON VIEW {{ident .View}} IS {{lit .Doc}};
{{end}}{{range .Columns}}{{if .Doc}}COMMENT ON COLUMN {{ident $.View}}.{{ident .Name}} IS {{lit .Doc}};
{{end}}{{end}}{{if .Partition}}COMMENT ON COLUMN {{ident .View}}.{{ident .Partition}} IS {{lit .PartitionDoc}};
{{end}}
