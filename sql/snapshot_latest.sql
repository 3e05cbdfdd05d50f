CREATE OR REPLACE VIEW {{.Name}} AS
SELECT *
FROM {{.Name}}_history
QUALIFY snapshot_date = max(snapshot_date) OVER (PARTITION BY tenant_id);
