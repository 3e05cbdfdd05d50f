-- license_position: the compliance position. One row per subscribed SKU (kind 'sku'): seats purchased (enabled),
-- in warning (expired, in grace) and suspended, assigned, and how the assigned ones are used (this run's
-- license_usage), what is available or short, what can be reclaimed or downgraded and what the idle seats cost.
-- One row per F&O license tier (kind 'finops_license'): the F&O users (an enabled F&O account matched to an Entra
-- user) whose roles require the tier, against the F&O users whose highest F&O license is the tier (assigned);
-- holders of the tier's license without an F&O account are counted apart (held_without_finops_account), so a Team
-- Members license used for Dynamics 365 CE only does not count as an F&O seat. under_licensed counts those who need
-- the tier and hold less (a compliance gap), true_up_monthly_cost what closing it costs a month.
-- $1 is the tenant id.
WITH k AS (
    SELECT k.sku_id, k.sku_part_number, k.capability_status, k.prepaid_enabled, k.prepaid_warning, k.prepaid_suspended,
           k.consumed_units, s.product_id, coalesce(nm.display_name, ng.display_name, k.sku_part_number) AS product_display_name
    FROM graph_subscribed_skus k
    LEFT JOIN rule_skus s ON s.sku_part_number = k.sku_part_number
    LEFT JOIN rule_sku_names nm ON nm.sku_part_number = k.sku_part_number
    LEFT JOIN rule_sku_names ng ON ng.sku_id = lower(k.sku_id) AND nm.sku_part_number IS NULL
    WHERE k.tenant_id = $1
),
use AS (
    SELECT sku_id,
           count(*) FILTER (WHERE status = 'active') AS active,
           count(*) FILTER (WHERE status IN ('low_usage', 'never_used', 'disabled_user_licensed')) AS inactive,
           count(*) FILTER (WHERE status IN ('grace_period', 'review_only', 'excluded')) AS undecided,
           count(*) FILTER (WHERE reclaim_candidate) AS reclaimable,
           count(*) FILTER (WHERE downgrade_to IS NOT NULL) AS downgradable,
           sum(monthly_cost) FILTER (WHERE reclaim_candidate) AS idle_monthly_cost,
           sum(yearly_saving) AS yearly_saving
    FROM mart_license_usage GROUP BY sku_id
),
fo_held AS (
    SELECT l.user_id, max(rp.finops_rank) AS rank, sum(l.true_up_monthly_cost) FILTER (WHERE l.under_licensed) AS flagged_true_up
    FROM mart_license_usage l JOIN rule_products rp ON rp.product_id = l.product_id
    WHERE rp.finops_rank IS NOT NULL GROUP BY 1
),
fo AS (
    SELECT coalesce(r.user_id, h.user_id) AS user_id, r.rank AS required, coalesce(h.rank, 0) AS held,
           r.user_id IS NOT NULL AS has_account, h.flagged_true_up
    FROM finops_required r FULL JOIN fo_held h ON h.user_id = r.user_id
),
tiers AS (
    SELECT t.tier, t.rank, t.sku, coalesce(tp.monthly_price, fp.monthly_price) AS monthly_price, coalesce(tp.currency, fp.currency) AS currency,
           CASE WHEN t.sku IS NOT NULL THEN coalesce(nm.display_name, t.sku) END AS product_display_name
    FROM rule_tiers t
    LEFT JOIN rule_prices tp ON tp.sku_part_number = t.sku
    LEFT JOIN rule_prices fp ON fp.sku_part_number = 'finops:' || t.tier
    LEFT JOIN rule_sku_names nm ON nm.sku_part_number = t.sku
)
SELECT 'sku' AS kind, k.sku_id, k.sku_part_number, k.product_display_name, k.product_id, rp.product_name, k.capability_status,
       k.prepaid_enabled AS purchased, k.prepaid_warning AS warning, k.prepaid_suspended AS suspended,
       k.consumed_units AS assigned,
       CAST(coalesce(u.active, 0) AS INTEGER) AS active, CAST(coalesce(u.inactive, 0) AS INTEGER) AS inactive,
       CAST(coalesce(u.undecided, 0) AS INTEGER) AS undecided,
       k.prepaid_enabled + k.prepaid_warning - k.consumed_units AS available,
       greatest(k.consumed_units - k.prepaid_enabled - k.prepaid_warning, 0) AS shortfall,
       CAST(coalesce(u.reclaimable, 0) AS INTEGER) AS reclaimable, CAST(coalesce(u.downgradable, 0) AS INTEGER) AS downgradable,
       CAST(NULL AS INTEGER) AS required, CAST(NULL AS INTEGER) AS under_licensed, CAST(NULL AS INTEGER) AS held_without_finops_account,
       pr.monthly_price, pr.currency, u.idle_monthly_cost, u.yearly_saving, CAST(NULL AS DOUBLE) AS true_up_monthly_cost
FROM k
LEFT JOIN use u ON u.sku_id = k.sku_id
LEFT JOIN rule_products rp ON rp.product_id = k.product_id
LEFT JOIN rule_prices pr ON pr.sku_part_number = k.sku_part_number
UNION ALL
SELECT 'finops_license', NULL, t.sku, t.product_display_name, NULL, 'F&O ' || t.tier, NULL, NULL, NULL, NULL,
       CAST(count(fo.user_id) FILTER (WHERE fo.has_account AND fo.held = t.rank) AS INTEGER),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       CAST(count(fo.user_id) FILTER (WHERE fo.required = t.rank) AS INTEGER),
       CAST(count(fo.user_id) FILTER (WHERE fo.required = t.rank AND fo.held < t.rank) AS INTEGER),
       CAST(count(fo.user_id) FILTER (WHERE NOT fo.has_account AND fo.held = t.rank) AS INTEGER),
       t.monthly_price, t.currency, NULL, NULL,
       CASE WHEN t.monthly_price IS NOT NULL THEN coalesce(sum(CASE WHEN fo.held = 0 THEN t.monthly_price ELSE fo.flagged_true_up END)
            FILTER (WHERE fo.required = t.rank AND fo.held < t.rank), 0) END
FROM tiers t
LEFT JOIN fo ON true
WHERE (SELECT count(*) FROM finops_users WHERE tenant_id = $1) > 0
GROUP BY t.tier, t.rank, t.sku, t.product_display_name, t.monthly_price, t.currency
ORDER BY kind DESC, sku_part_number, product_name
