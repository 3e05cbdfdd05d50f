-- The latest snapshot of each tenant: the view analysts use by default. Its files (each tenant's latest day at the
-- snapshot of its last committed run) were chosen when the catalog was built (every commit rebuilds it), so a
-- query reads only them; an empty latest snapshot is empty here.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT {{template "columns" .}},
       snapshot_date
FROM read_parquet({{.Latest}}, hive_partitioning = true, union_by_name = true,
                  hive_types = {'tenant_id': VARCHAR, 'snapshot_date': DATE});
