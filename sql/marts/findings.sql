-- findings: anonymization and data-quality findings, each with a severity (high, medium, low), the environment it is
-- about (null for the tenant), how many things it counts, what was seen and what to do. A finding not listed did
-- not occur. $1 is the tenant id; run_missing lists what this run could not fetch; signin_summary and audit_summary
-- are the sign-in and audit logs read once for the marts.
WITH f AS (
    SELECT 'report_names_concealed' AS code, 'medium' AS severity, NULL AS environment_url, 1 AS n,
           'Microsoft 365 usage reports conceal user names (displayConcealedNames = true): report rows join to nobody, so Microsoft 365 licenses of users not proved active by sign-ins are review_only' AS detail,
           'turn off "Display concealed user, group, and site names in all reports" (Microsoft 365 admin center > Settings > Org settings > Reports) or PATCH /admin/reportSettings {"displayConcealedNames": false}, then run again' AS action
    FROM graph_report_settings WHERE tenant_id = $1 AND display_concealed_names
    UNION ALL
    SELECT 'hashed_user_names', 'medium', NULL, count(*),
           count(*) || ' usage report row(s) name the user with a 32-hex hash instead of a UPN',
           'the hashes cannot be reversed; turn off concealed names so the next report carries UPNs'
    FROM graph_usage_report WHERE tenant_id = $1 AND name_concealed HAVING count(*) > 0
    UNION ALL
    SELECT 'p1_missing', 'medium', NULL, count(*),
           'the tenant has no Entra ID P1/P2: no signInActivity and no sign-in log, so last sign-ins are unknown for ' || count(*) || ' users',
           'license Entra ID P1 (or P2) for at least one user to unlock signInActivity and the sign-in log'
    FROM graph_users WHERE tenant_id = $1 HAVING count(*) > 0 AND NOT bool_or(sign_in_activity_available)
    UNION ALL
    SELECT 'auditing_off', 'high', environment_url, 1,
           'auditing is off in this Dataverse environment: no Dynamics 365 activity evidence from it',
           'turn on auditing (Power Platform admin center > Environment > Settings > Audit and logs > Start Auditing)'
    FROM dataverse_audit_settings WHERE tenant_id = $1 AND NOT coalesce(isauditenabled, false)
    UNION ALL
    SELECT 'user_access_auditing_off', 'high', environment_url, 1,
           'user access auditing ("Log access") is off in this Dataverse environment: nobody''s access is recorded',
           'turn on Log access (Power Platform admin center > Environment > Settings > Audit and logs > Audit settings)'
    FROM dataverse_audit_settings WHERE tenant_id = $1 AND coalesce(isauditenabled, false) AND NOT coalesce(isuseraccessauditenabled, false)
    UNION ALL
    SELECT 'suspicious_activity', 'high', environment_url, count(DISTINCT account_id),
           count(DISTINCT account_id) || ' account(s) not on the Entra roster acted: ' || string_agg(DISTINCT account_name, ', ' ORDER BY account_name),
           'find out who uses these accounts; disable the ones that belong to people who left'
    FROM (
        SELECT a.environment_url, i.account_id, coalesce(i.account_name, i.account_id) AS account_name
        FROM (SELECT environment_url, user_id FROM audit_summary) a
        JOIN mart_identities i ON i.source = 'dataverse' AND i.environment_url = a.environment_url AND i.account_id = a.user_id
        WHERE i.entra_user_id IS NULL AND i.unmatched_reason NOT IN ('application_user', 'built_in')
        UNION ALL
        -- the users off the roster first (their ids from the log's summary, signin_summary), then the names of their
        -- sign-ins only: decoding every name of a 10M-row log costs more than the few sign-ins read again
        SELECT NULL, s.user_id, coalesce(s.upn, s.user_id)
        FROM (SELECT user_id, any_value(user_principal_name) AS upn FROM graph_signins_history
              WHERE tenant_id = $1 AND user_id IN (
                  SELECT DISTINCT user_id FROM signin_summary
                  WHERE user_id IS NOT NULL AND user_id NOT IN (SELECT id FROM graph_users WHERE tenant_id = $1))
              GROUP BY user_id) s
    ) GROUP BY environment_url
    UNION ALL
    SELECT CASE unmatched_reason WHEN 'not_in_entra' THEN 'dataverse_not_in_entra' WHEN 'conflict' THEN 'identity_conflict' ELSE 'finops_no_entra_identity' END,
           'medium', environment_url, count(*),
           CASE unmatched_reason
                WHEN 'not_in_entra' THEN count(*) || ' Dataverse user(s) point to an Entra object that no longer exists: ' || string_agg(account_name, ', ' ORDER BY account_name)
                WHEN 'conflict' THEN count(*) || ' account(s) match several Entra users by e-mail and were not joined: ' || string_agg(account_name, ', ' ORDER BY account_name)
                ELSE count(*) || ' F&O user(s) match no Entra user: ' || string_agg(account_name, ', ' ORDER BY account_name) END,
           CASE unmatched_reason
                WHEN 'not_in_entra' THEN 'disable or remove these Dataverse users; their licenses and access outlived the person'
                WHEN 'conflict' THEN 'give each directory user its own e-mail address, or set the account''s Alias to the right UPN'
                ELSE 'set each F&O user''s Alias to its Entra UPN, or disable accounts nobody owns' END
    FROM mart_identities
    WHERE (source = 'dataverse' AND unmatched_reason IN ('not_in_entra', 'conflict'))
       OR (source = 'finops' AND unmatched_reason IN ('no_match', 'conflict'))
    GROUP BY unmatched_reason, environment_url
    UNION ALL
    SELECT 'finops_under_licensed', 'high', NULL, sum(under_licensed),
           sum(under_licensed) || ' F&O user(s) hold a lower license than their roles require ('
               || string_agg(product_name || ': ' || under_licensed, ', ' ORDER BY product_name) FILTER (WHERE under_licensed > 0) || ')',
           'assign the license the roles require (license_usage.action ''assign <tier>'', true_up_monthly_cost per user), or remove the roles that need it'
    FROM mart_license_position WHERE kind = 'finops_license' HAVING sum(under_licensed) > 0
    UNION ALL
    SELECT 'seats_short', 'high', NULL, sum(shortfall),
           'more seats assigned than purchased: ' || string_agg(product_display_name
               || CASE WHEN product_display_name <> sku_part_number THEN ' (' || sku_part_number || ')' ELSE '' END || ' short by ' || shortfall, ', ' ORDER BY sku_part_number),
           'buy the missing seats or reclaim idle ones (license_usage.reclaim_candidate)'
    FROM mart_license_position WHERE kind = 'sku' AND shortfall > 0 HAVING count(*) > 0
    UNION ALL
    SELECT 'subscription_in_grace', 'high', NULL, count(*),
           'subscription(s) expired and in their grace period (capabilityStatus Warning): ' || string_agg(product_display_name
               || CASE WHEN product_display_name <> sku_part_number THEN ' (' || sku_part_number || ')' ELSE '' END
               || ', ' || warning || ' seat(s) in grace', '; ' ORDER BY sku_part_number),
           'renew before the grace period ends, or plan to move their ' || sum(assigned) || ' assigned users'
    FROM mart_license_position WHERE kind = 'sku' AND capability_status = 'Warning' HAVING count(*) > 0
    UNION ALL
    SELECT 'group_names_unknown', 'low', NULL, count(*),
           count(*) || ' group(s) that assign licenses have no name in graph_groups, so reasons and actions name them by id: '
               || string_agg(gid, ', ' ORDER BY gid),
           'grant the app the Microsoft Graph application permission GroupMember.Read.All and admin consent (the run''s warnings say when it was refused); the next run reads the names. A group deleted since the users were read has none'
    FROM (SELECT DISTINCT lower(trim(unnest(string_split(assigned_by_group, ',')))) AS gid
          FROM graph_user_licenses WHERE tenant_id = $1 AND assigned_by_group IS NOT NULL)
    WHERE gid NOT IN (SELECT lower(group_id) FROM graph_groups WHERE tenant_id = $1)
    HAVING count(*) > 0
    UNION ALL
    SELECT 'source_incomplete', 'high', NULL, count(*),
           'the last run could not fetch: ' || string_agg(part, '; '),
           'see the run summary (runs table) and fix what it names; the next run fetches what is missing'
    FROM run_missing HAVING count(*) > 0
)
SELECT code, severity, environment_url, CAST(n AS BIGINT) AS count, detail, action
FROM f
ORDER BY CASE severity WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, code, environment_url
