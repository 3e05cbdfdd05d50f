-- One file per run (runs/tenant=<id>/<run_id>.parquet): every row of every run.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT {{template "columns" .}}
FROM read_parquet({{.Source}}, hive_partitioning = true, union_by_name = true, hive_types = {'tenant': VARCHAR});
