CREATE OR REPLACE VIEW {{.Name}}_history AS
SELECT * EXCLUDE (tenant)
FROM read_parquet('{{.Glob}}', hive_partitioning = true, union_by_name = true,
                  hive_types = {'tenant': VARCHAR, 'event_date': DATE});
