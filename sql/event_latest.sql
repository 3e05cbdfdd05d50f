CREATE OR REPLACE VIEW {{.Name}} AS
SELECT *
FROM {{.Name}}_history
QUALIFY row_number() OVER (PARTITION BY tenant_id{{range .Keys}}, {{.}}{{end}} ORDER BY extracted_at DESC, run_id DESC) = 1;
