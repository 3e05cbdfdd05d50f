CREATE OR REPLACE VIEW {{.Name}} AS
SELECT * EXCLUDE (tenant)
FROM read_parquet('{{.Glob}}', hive_partitioning = true, union_by_name = true, hive_types = {'tenant': VARCHAR});
