-- Each event once: the copy from the newest extraction. An event's time never changes, so its copies share an
-- event_date; partitioning by it lets DuckDB push a filter on event_date below the window and skip the
-- other days' files.
CREATE OR REPLACE VIEW {{ident .View}} AS
SELECT *
FROM {{ident .History}}
QUALIFY row_number() OVER (
    PARTITION BY tenant_id, event_date{{range .Keys}}, {{ident .}}{{end}}
    ORDER BY extracted_at DESC, run_id DESC) = 1;
