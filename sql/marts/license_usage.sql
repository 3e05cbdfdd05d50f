-- license_usage: one row per user and assigned SKU: the product, when it was assigned (and by which group), the
-- last activity and its evidence, days inactive, the status, a reason a person can act on, the cost, and whether it
-- is a reclaim (or downgrade) candidate. $1 is the tenant id; run_params holds as_of, the exclusion settings and
-- the tenant's name (tenant_name, first, so a person reads whose row it is); rule_upn_matches(upn) tests the
-- exclusion pattern (a macro holding it as a constant, compiled once).
-- Status, first that applies:
--   excluded                 the UPN matches the exclusion regex or list, the license comes from an excluded group,
--                            or one of the user's Dataverse accounts is non-interactive or an application user
--   disabled_user_licensed   the account is disabled and still holds the license
--   active                   the product's latest evidence is at most threshold days old
--   grace_period             assigned fewer than threshold days ago
--   review_only              the evidence cannot decide: the usage report conceals names (for products it proves),
--                            no evidence source is available, or the evidence held covers fewer days than the threshold
--   low_usage                the latest evidence, the last sign-in to anything, or the whole evidence held, is
--                            older than the threshold
--   never_used               no evidence of the product and the user never signed in (or, for products proved by
--                            sign-ins and the usage report, no activity at all)
-- Apart from the status, an F&O license row is under_licensed when the user's F&O roles require a higher tier than
-- the highest F&O license the user holds (flagged on that license's row): the action is "assign <tier>" (unless
-- the license is reclaimed), true_up_monthly_cost what the required tier costs a month more.
-- product_display_name is Microsoft's product name of the SKU (or the rules' sku-names), else its part number.
-- A group that assigns a license is named "<display name> (<id>)" in reasons and actions when graph_groups has its
-- name, by id alone otherwise.
-- Lookups are joins to one-row-per-key CTEs (tier_of, excluded_groups), not correlated subqueries: DuckDB turns
-- those into a join and a window over every license row, which, measured on 30,267 license rows, held 80 MB more at once.
WITH p AS (SELECT * FROM run_params),
tier_of AS (SELECT rank, min(tier) AS tier FROM rule_tiers GROUP BY rank),
u AS (
    SELECT id, user_principal_name, display_name, account_enabled, last_successful_sign_in_at, sign_in_activity_available
    FROM graph_users WHERE tenant_id = $1
),
grp AS (
    SELECT x.user_id, x.sku_id,
           string_agg(coalesce(g.display_name || ' (' || x.gid || ')', x.gid), ', ' ORDER BY x.gid) AS group_label,
           string_agg(g.display_name, ', ' ORDER BY x.gid) AS group_names
    FROM (SELECT user_id, sku_id, trim(unnest(string_split(assigned_by_group, ','))) AS gid
          FROM graph_user_licenses WHERE tenant_id = $1 AND assigned_by_group IS NOT NULL) x
    LEFT JOIN graph_groups g ON g.tenant_id = $1 AND lower(g.group_id) = lower(x.gid)
    GROUP BY x.user_id, x.sku_id
),
lic AS (
    SELECT l.user_id, l.sku_id, k.sku_part_number,
           coalesce(nm.display_name, ng.display_name, k.sku_part_number, l.sku_id) AS product_display_name,
           s.product_id, l.assigned_at, l.assigned_by_group, gr.group_label, gr.group_names
    FROM graph_user_licenses l
    LEFT JOIN grp gr ON gr.user_id = l.user_id AND gr.sku_id = l.sku_id
    LEFT JOIN graph_subscribed_skus k ON k.sku_id = l.sku_id AND k.tenant_id = $1
    LEFT JOIN rule_skus s ON s.sku_part_number = k.sku_part_number
    LEFT JOIN rule_sku_names nm ON nm.sku_part_number = k.sku_part_number
    LEFT JOIN rule_sku_names ng ON ng.sku_id = lower(l.sku_id) AND nm.sku_part_number IS NULL
    WHERE l.tenant_id = $1
),
-- per user: the highest F&O license rank held, what a license row needs to know whether it is the one to flag
held AS (
    SELECT l.user_id, max(rp.finops_rank) AS held_rank
    FROM lic l JOIN rule_products rp ON rp.product_id = l.product_id
    WHERE rp.finops_rank IS NOT NULL GROUP BY 1
),
report AS (
    SELECT count(*) AS rows, count(*) FILTER (WHERE name_concealed) AS concealed
    FROM graph_usage_report WHERE tenant_id = $1
),
settings AS (
    SELECT coalesce(bool_or(display_concealed_names), false) AS concealed FROM graph_report_settings WHERE tenant_id = $1
),
non_interactive AS (
    SELECT DISTINCT i.entra_user_id AS user_id
    FROM dataverse_users d
    JOIN mart_identities i ON i.source = 'dataverse' AND i.environment_url = d.environment_url AND i.account_id = d.systemuserid
    WHERE d.tenant_id = $1 AND i.entra_user_id IS NOT NULL AND (d.accessmode = 4 OR d.applicationid IS NOT NULL)
),
excluded_groups AS (
    SELECT DISTINCT g.assigned_by_group
    FROM (SELECT DISTINCT assigned_by_group FROM lic WHERE assigned_by_group IS NOT NULL) g
    JOIN rule_exclusions x ON x.kind = 'group' AND list_contains(string_split(lower(g.assigned_by_group), ','), x.value)
),
base AS (
    SELECT l.*, u.user_principal_name, u.display_name, u.account_enabled, u.last_successful_sign_in_at AS any_sign_in,
           coalesce(u.sign_in_activity_available, false) AS sia_available,
           rp.product_name, coalesce(rk.threshold_days, p.threshold_days) AS threshold,
           coalesce(rk.signin_log OR rk.dataverse, false) AS specific,
           coalesce(rk.usage_report, false) AS by_report, coalesce(rk.sign_in_activity, false) AS by_sia,
           rp.evidence_phrase, rp.downgrade_to, rp.downgrade_sku, rp.finops_rank,
           a.last_activity, a.evidence, a.evidence_detail, a.evidence_lag, a.evidence_since,
           a.last_dataverse_access, a.last_dataverse_change,
           (SELECT concealed FROM settings) OR (SELECT concealed > 0 AND concealed = rows FROM report) AS report_concealed,
           (SELECT rows > concealed FROM report) AS report_usable,
           fr.rank AS required_rank, h.held_rank,
           row_number() OVER (PARTITION BY l.user_id, rp.finops_rank ORDER BY l.sku_part_number, l.sku_id) AS rank_row,
           CASE WHEN p.upn_regex <> '' AND rule_upn_matches(lower(u.user_principal_name)) THEN 'the exclusion pattern ' || p.upn_regex
                WHEN lower(u.user_principal_name) IN (SELECT value FROM rule_exclusions WHERE kind = 'user') THEN 'the exclusion list'
                WHEN xg.assigned_by_group IS NOT NULL
                     THEN CASE WHEN l.group_names IS NOT NULL THEN 'the excluded group ' || l.group_label ELSE 'an excluded group (' || l.assigned_by_group || ')' END
                WHEN p.exclude_non_interactive AND ni.user_id IS NOT NULL THEN 'a Dataverse non-interactive or application account'
           END AS excluded_by,
           date_diff('day', CAST(a.last_activity AS DATE), p.as_of) AS days_since_activity,
           date_diff('day', CAST(u.last_successful_sign_in_at AS DATE), p.as_of) AS days_since_sign_in,
           date_diff('day', CAST(a.evidence_since AS DATE), p.as_of) AS days_held,
           date_diff('day', CAST(l.assigned_at AS DATE), p.as_of) AS days_assigned,
           p.as_of
    FROM lic l
    JOIN u ON u.id = l.user_id
    CROSS JOIN p
    LEFT JOIN rule_products rp ON rp.product_id = l.product_id
    LEFT JOIN rule_product_kinds rk ON rk.product_id = l.product_id
    LEFT JOIN mart_user_activity a ON a.user_id = l.user_id AND a.product_id = l.product_id
    LEFT JOIN non_interactive ni ON ni.user_id = l.user_id
    LEFT JOIN finops_required fr ON fr.user_id = l.user_id
    LEFT JOIN held h ON h.user_id = l.user_id
    LEFT JOIN excluded_groups xg ON xg.assigned_by_group = l.assigned_by_group
),
judged AS (
    SELECT *,
        CASE
            WHEN excluded_by IS NOT NULL THEN 'excluded'
            WHEN NOT coalesce(account_enabled, true) THEN 'disabled_user_licensed'
            WHEN product_id IS NULL THEN 'review_only'
            WHEN last_activity IS NOT NULL AND days_since_activity <= threshold THEN 'active'
            WHEN days_assigned < threshold THEN 'grace_period'
            WHEN by_report AND report_concealed THEN 'review_only'
            WHEN last_activity IS NOT NULL THEN 'low_usage'
            WHEN NOT specific AND NOT ((by_sia AND sia_available) OR (by_report AND coalesce(report_usable, false))) THEN 'review_only'
            WHEN NOT specific THEN 'never_used'
            WHEN sia_available AND any_sign_in IS NOT NULL AND days_since_sign_in > threshold THEN 'low_usage'
            WHEN sia_available AND any_sign_in IS NULL THEN 'never_used'
            WHEN evidence_since IS NOT NULL AND days_held > threshold THEN 'low_usage'
            ELSE 'review_only'
        END AS status
    FROM base
),
decided AS (
    SELECT j.*,
        CASE
            WHEN status = 'low_usage' AND last_activity IS NOT NULL THEN days_since_activity
            WHEN status = 'low_usage' AND specific AND sia_available AND any_sign_in IS NOT NULL AND days_since_sign_in > threshold THEN days_since_sign_in
            WHEN status = 'low_usage' THEN days_held
            WHEN last_activity IS NOT NULL THEN days_since_activity
        END AS days_inactive,
        CASE
            WHEN status <> 'active' THEN NULL
            WHEN downgrade_to IS NOT NULL AND last_dataverse_access IS NOT NULL
                 AND date_diff('day', CAST(last_dataverse_access AS DATE), as_of) <= threshold
                 AND (last_dataverse_change IS NULL OR date_diff('day', CAST(last_dataverse_change AS DATE), as_of) > threshold)
                THEN downgrade_to
            WHEN finops_rank IS NOT NULL AND required_rank IS NOT NULL AND required_rank < finops_rank
                THEN rq.tier
        END AS downgrade_to_now,
        CASE WHEN finops_rank IS NOT NULL AND required_rank IS NOT NULL AND required_rank < finops_rank THEN 'finops' ELSE 'dynamics' END AS downgrade_kind,
        coalesce(finops_rank IS NOT NULL AND finops_rank = held_rank AND rank_row = 1 AND required_rank > held_rank, false) AS under_licensed,
        rq.tier AS required_tier,
        hq.tier AS held_tier
    FROM judged j
    LEFT JOIN tier_of rq ON rq.rank = j.required_rank
    LEFT JOIN tier_of hq ON hq.rank = j.finops_rank
),
priced AS (
    SELECT d.*, pr.monthly_price, pr.currency,
           CASE WHEN d.downgrade_kind = 'finops' THEN coalesce(tp.monthly_price, fp.monthly_price) ELSE dp.monthly_price END AS target_price,
           coalesce(rtp.monthly_price, rfp.monthly_price) AS required_price
    FROM decided d
    LEFT JOIN rule_prices pr ON pr.sku_part_number = d.sku_part_number
    LEFT JOIN rule_prices dp ON dp.sku_part_number = d.downgrade_sku
    LEFT JOIN rule_tiers tt ON tt.tier = d.downgrade_to_now
    LEFT JOIN rule_prices tp ON tp.sku_part_number = tt.sku
    LEFT JOIN rule_prices fp ON fp.sku_part_number = 'finops:' || d.downgrade_to_now
    LEFT JOIN rule_tiers rt ON rt.tier = d.required_tier AND d.under_licensed
    LEFT JOIN rule_prices rtp ON rtp.sku_part_number = rt.sku
    LEFT JOIN rule_prices rfp ON rfp.sku_part_number = 'finops:' || rt.tier
)
SELECT (SELECT tenant_name FROM run_params) AS tenant_name,
       user_id, user_principal_name, display_name, sku_id, sku_part_number, product_display_name, product_id, product_name,
       assigned_at, assigned_by_group, last_activity, evidence, evidence_detail, evidence_lag,
       CAST(days_inactive AS INTEGER) AS days_inactive, CAST(threshold AS INTEGER) AS threshold_days, status,
       CASE status
           WHEN 'excluded' THEN 'excluded by ' || excluded_by || ': never a reclaim candidate'
           WHEN 'disabled_user_licensed' THEN 'the account is disabled and still holds ' || product_display_name
               || CASE WHEN sku_part_number <> product_display_name THEN ' (' || sku_part_number || ')' ELSE '' END
               || CASE WHEN assigned_by_group IS NOT NULL THEN ', inherited from group ' || group_label || ': remove the user from that group'
                       ELSE ': remove the license' END
           WHEN 'active' THEN 'in use: last ' || evidence_detail || ' on ' || strftime(last_activity, '%Y-%m-%d')
               || ' (' || CASE days_since_activity WHEN 0 THEN 'today' WHEN 1 THEN '1 day ago' ELSE days_since_activity || ' days ago' END || ', threshold ' || threshold || ')'
               || CASE WHEN downgrade_to_now IS NOT NULL AND downgrade_kind = 'finops'
                       THEN '; the user''s F&O roles need only ' || downgrade_to_now || ': downgrade'
                       WHEN downgrade_to_now IS NOT NULL
                       THEN '; Dataverse audits show only access, no record changes, for ' || threshold || ' days: ' || downgrade_to_now || ' is enough'
                       ELSE '' END
           WHEN 'grace_period' THEN 'assigned ' || CASE days_assigned WHEN 0 THEN 'today' WHEN 1 THEN '1 day ago' ELSE days_assigned || ' days ago' END
               || ' (' || strftime(assigned_at, '%Y-%m-%d')
               || '), within the ' || threshold || '-day grace period'
               || CASE WHEN last_activity IS NULL THEN '; no use yet' ELSE '; last ' || evidence_detail || ' on ' || strftime(last_activity, '%Y-%m-%d') END
           WHEN 'review_only' THEN
               CASE WHEN product_id IS NULL THEN 'SKU ' || coalesce(sku_part_number, sku_id) || ' maps to no product in the rules: add it to decide'
                    WHEN by_report AND report_concealed THEN 'usage reports conceal user names, so ' || product_name
                        || ' activity cannot be joined to this user'
                        || CASE WHEN any_sign_in IS NOT NULL THEN ' (last sign-in to anything: ' || strftime(any_sign_in, '%Y-%m-%d') || ')' ELSE '' END
                        || ': turn off concealed names (Microsoft 365 admin center > Settings > Org settings > Reports) to decide'
                    WHEN NOT specific THEN 'no evidence source: signInActivity needs Entra ID P1 and the usage report is '
                        || CASE WHEN coalesce(report_usable, false) THEN 'usable' ELSE 'missing' END
                    WHEN evidence_since IS NULL THEN 'no evidence of ' || product_name || ' is held: its sign-in log needs Entra ID P1'
                        || CASE WHEN evidence_phrase LIKE '%Dataverse%' THEN ' and its Dataverse audits need auditing on' ELSE '' END
                    ELSE 'no ' || evidence_phrase || ' in the ' || days_held || ' days of evidence held, fewer than the threshold of '
                        || threshold || CASE WHEN any_sign_in IS NOT NULL THEN ' (last sign-in to anything: ' || strftime(any_sign_in, '%Y-%m-%d') || ')' ELSE '' END
                        || ': decided once ' || (threshold - days_held + 1) || ' more days are held'
               END
           WHEN 'low_usage' THEN
               CASE WHEN last_activity IS NOT NULL THEN 'no ' || evidence_phrase || ' for ' || days_since_activity || ' days (threshold ' || threshold
                        || '); last: ' || evidence_detail || ' on ' || strftime(last_activity, '%Y-%m-%d')
                    WHEN specific AND sia_available AND any_sign_in IS NOT NULL AND days_since_sign_in > threshold
                        THEN 'no sign-in to anything for ' || days_since_sign_in || ' days (threshold ' || threshold || '); last successful sign-in on '
                        || strftime(any_sign_in, '%Y-%m-%d')
                    ELSE 'no ' || evidence_phrase || ' in all ' || days_held || ' days of evidence held (threshold ' || threshold || ')'
               END
               || CASE WHEN assigned_by_group IS NOT NULL THEN '; inherited from group ' || group_label || ': remove the user from that group' ELSE '' END
           WHEN 'never_used' THEN 'never used: no ' || evidence_phrase
               || CASE WHEN specific THEN ', and never signed in to anything' ELSE ' ever' END
               || '; assigned ' || coalesce(days_assigned || ' days ago', 'at an unknown date')
               || CASE WHEN assigned_by_group IS NOT NULL THEN '; inherited from group ' || group_label || ': remove the user from that group' ELSE '' END
       END
       || CASE WHEN under_licensed THEN '; under-licensed: the user''s F&O roles require ' || required_tier || ', more than the '
               || coalesce(held_tier, product_display_name) || ' license held: assign ' || required_tier ELSE '' END AS reason,
       CASE WHEN downgrade_to_now IS NOT NULL THEN downgrade_to_now END AS downgrade_to,
       CASE WHEN finops_rank IS NOT NULL THEN required_tier END AS required_license, under_licensed,
       monthly_price AS monthly_cost, currency,
       CASE WHEN status IN ('low_usage', 'never_used', 'disabled_user_licensed') THEN 12 * monthly_price
            WHEN downgrade_to_now IS NOT NULL THEN 12 * (monthly_price - coalesce(target_price, monthly_price)) END AS yearly_saving,
       CASE WHEN under_licensed THEN greatest(required_price - coalesce(monthly_price, 0), 0) END AS true_up_monthly_cost,
       status IN ('low_usage', 'never_used', 'disabled_user_licensed') AS reclaim_candidate,
       CASE WHEN status IN ('low_usage', 'never_used', 'disabled_user_licensed') AND assigned_by_group IS NOT NULL THEN 'remove from group ' || group_label
            WHEN status IN ('low_usage', 'never_used', 'disabled_user_licensed') THEN 'remove license'
            WHEN under_licensed THEN 'assign ' || required_tier
            WHEN downgrade_to_now IS NOT NULL THEN 'downgrade to ' || downgrade_to_now END AS action
FROM priced
ORDER BY user_id, sku_part_number, sku_id
