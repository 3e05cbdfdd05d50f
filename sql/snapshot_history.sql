-- Every snapshot of a snapshot table: one per tenant and day, with the day as snapshot_date.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT {{template "columns" .}},
       snapshot_date
FROM read_parquet({{.Source}}, hive_partitioning = true, union_by_name = true,
                  hive_types = {'tenant_id': VARCHAR, 'snapshot_date': DATE});
