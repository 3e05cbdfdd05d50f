-- Every stored copy of every event: runs whose windows overlap store an event more than once.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT {{template "columns" .}},
       event_date
FROM read_parquet({{.Source}}, hive_partitioning = true, union_by_name = true,
                  hive_types = {'tenant_id': VARCHAR, 'event_date': DATE});
