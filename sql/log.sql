-- Every row of every run: the record table's current files.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT {{template "columns" .}}
FROM read_parquet({{.Source}}, hive_partitioning = true, union_by_name = true, hive_types = {'tenant_id': VARCHAR});
