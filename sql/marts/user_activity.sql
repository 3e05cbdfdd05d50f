-- user_activity: per Entra user and product the user holds a SKU of, the last activity, the evidence that gave it and that evidence's known lag, with the newest
-- date of each evidence kind beside it so a reader can check the choice.
-- $1 is the tenant id. rule_* and run_params are the rules and the as-of date, loaded by transform/ for this run;
-- mart_identities is this run's identities mart, signin_summary and audit_summary the sign-in and audit logs read
-- once for the marts.
-- Evidence kinds (a product uses the kinds it lists in the rules):
--   signin_log        successful (error_code 0) sign-ins to one of the product's resources
--   dataverse         Dataverse audits (access 64/65, changes 1/2/3) of the user's accounts in any environment
--   sign_in_activity  signInActivity.lastSuccessfulSignInDateTime (any app)
--   usage_report      the newest workload date of the user's usage report row; a concealed row joins nobody
WITH u AS (
    SELECT id, user_principal_name, lower(user_principal_name) AS lupn, last_successful_sign_in_at, sign_in_activity_available
    FROM graph_users WHERE tenant_id = $1
),
held AS (
    SELECT DISTINCT l.user_id, s.product_id
    FROM graph_user_licenses l
    JOIN graph_subscribed_skus k ON k.sku_id = l.sku_id AND k.tenant_id = $1
    JOIN rule_skus s ON s.sku_part_number = k.sku_part_number
    WHERE l.tenant_id = $1
),
signin AS (
    -- the sign-in log's summary (signin_summary: successful sign-ins per user and product resource)
    SELECT s.user_id, r.product_id, max(s.last_at) AS at, arg_max(s.app, s.last_at) AS app
    FROM signin_summary s JOIN rule_product_resources r ON r.resource_id = s.resource_id
    WHERE s.user_id IS NOT NULL
    GROUP BY ALL
),
dv_acct AS (
    SELECT environment_url, account_id, entra_user_id FROM mart_identities
    WHERE source = 'dataverse' AND entra_user_id IS NOT NULL
),
dv AS (
    -- the audit log's summary (audit_summary: per environment and account)
    SELECT i.entra_user_id AS user_id,
           max(a.at) AS at,
           arg_max(a.detail, a.at) AS detail,
           max(a.access_at) AS access_at,
           max(a.change_at) AS change_at,
           count(DISTINCT a.environment_url) AS environments
    FROM audit_summary a
    JOIN dv_acct i ON i.environment_url = a.environment_url AND i.account_id = a.user_id
    WHERE a.at IS NOT NULL
    GROUP BY 1
),
report AS (
    SELECT lower(user_principal_name) AS lupn,
           CAST(greatest(exchange_last_activity, onedrive_last_activity, sharepoint_last_activity, teams_last_activity,
                         skype_last_activity, yammer_last_activity) AS TIMESTAMPTZ) AS at,
           report_refresh_date
    FROM graph_usage_report WHERE tenant_id = $1 AND NOT name_concealed
),
horizon AS (
    SELECT (SELECT min(first_at) FROM signin_summary) AS signin_from,
           (SELECT min(first_at) FROM audit_summary) AS dataverse_from
),
evidence AS (
    SELECT p.user_id, p.product_id, u.user_principal_name,
           CASE WHEN pe.signin_log THEN si.at END AS signin_at,
           CASE WHEN pe.signin_log THEN si.app END AS signin_app,
           CASE WHEN pe.dataverse THEN dv.at END AS dataverse_at,
           CASE WHEN pe.dataverse THEN dv.detail END AS dataverse_detail,
           CASE WHEN pe.dataverse THEN dv.access_at END AS dataverse_access_at,
           CASE WHEN pe.dataverse THEN dv.change_at END AS dataverse_change_at,
           CASE WHEN pe.sign_in_activity THEN u.last_successful_sign_in_at END AS sia_at,
           CASE WHEN pe.usage_report THEN rp.at END AS report_at,
           rp.report_refresh_date,
           CASE WHEN pe.signin_log AND pe.dataverse THEN least(hz.signin_from, hz.dataverse_from)
                WHEN pe.signin_log THEN hz.signin_from
                WHEN pe.dataverse THEN hz.dataverse_from END AS evidence_since
    FROM held p
    JOIN u ON u.id = p.user_id
    JOIN rule_product_kinds pe ON pe.product_id = p.product_id
    LEFT JOIN signin si ON si.user_id = p.user_id AND si.product_id = p.product_id
    LEFT JOIN dv ON dv.user_id = p.user_id
    LEFT JOIN report rp ON rp.lupn = u.lupn
    CROSS JOIN horizon hz
),
latest AS (
    SELECT *, greatest(signin_at, dataverse_at, sia_at, report_at) AS last_activity FROM evidence
)
SELECT l.user_id, l.user_principal_name, l.product_id, rp.product_name, l.last_activity,
       CASE l.last_activity
            WHEN l.signin_at THEN 'signin_log' WHEN l.dataverse_at THEN 'dataverse'
            WHEN l.sia_at THEN 'sign_in_activity' WHEN l.report_at THEN 'usage_report' END AS evidence,
       CASE l.last_activity
            WHEN l.signin_at THEN 'sign-in to ' || coalesce(l.signin_app, 'the product')
            WHEN l.dataverse_at THEN l.dataverse_detail
            WHEN l.sia_at THEN 'successful sign-in (signInActivity)'
            WHEN l.report_at THEN 'Microsoft 365 usage in the report of ' || strftime(l.report_refresh_date, '%Y-%m-%d') END AS evidence_detail,
       ev.lag AS evidence_lag,
       l.signin_at AS last_sign_in_log, l.dataverse_at AS last_dataverse, l.dataverse_access_at AS last_dataverse_access,
       l.dataverse_change_at AS last_dataverse_change, l.sia_at AS last_sign_in_activity, l.report_at AS last_usage_report,
       l.evidence_since
FROM latest l
JOIN rule_products rp ON rp.product_id = l.product_id
LEFT JOIN rule_evidence ev ON ev.evidence = CASE l.last_activity
            WHEN l.signin_at THEN 'signin_log' WHEN l.dataverse_at THEN 'dataverse'
            WHEN l.sia_at THEN 'sign_in_activity' WHEN l.report_at THEN 'usage_report' END
ORDER BY l.user_id, l.product_id
