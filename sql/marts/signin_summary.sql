-- signin_summary (not a mart: a table the marts share, computed once and never landed): the tenant's sign-in log
-- read once for every mart that needs it. One row per user (null for sign-ins without one) and product resource:
-- resource_id is the sign-in's resource when the sign-in succeeded (error_code 0) and the resource is one of the
-- rules' products', null for every other sign-in of the user. last_at and app are the newest such sign-in and its
-- app (app only for a product resource's row), first_at the oldest sign-in of the row.
-- user_activity takes its sign-in evidence and the log's horizon from it, findings the users off the roster: reading
-- 10,000,000 sign-ins' user ids (GUIDs, gzip) is most of what those marts cost, so the log is read here once instead
-- of three times. The log is read through its _history view: a maximum or minimum does not change with the copies
-- overlapping runs store, and skipping the view's de-duplication keeps a 10M-row log cheap. $1 is the tenant id.
SELECT user_id, resource_id, max(created_at) AS last_at, min(created_at) AS first_at,
       arg_max(app_display_name, created_at) FILTER (WHERE resource_id IS NOT NULL) AS app
FROM (
    SELECT user_id, created_at, app_display_name,
           CASE WHEN error_code = 0 AND resource_id IN (SELECT resource_id FROM rule_product_resources) THEN resource_id END AS resource_id
    FROM graph_signins_history
    WHERE tenant_id = $1
)
GROUP BY user_id, resource_id
