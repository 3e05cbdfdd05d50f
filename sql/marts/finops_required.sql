-- finops_required (not a mart: a table the marts share, computed after identities and never landed): per Entra
-- user with an enabled F&O account in any environment, the highest license rank their roles require (the
-- license_rank of SecurityUserRoles' UserLicenseType: "the maximum license requirement determines the actual
-- licensing requirement for a user"). $1 is the tenant id.
SELECT i.entra_user_id AS user_id, max(coalesce(r.license_rank, 0)) AS rank
FROM finops_users f
JOIN mart_identities i ON i.source = 'finops' AND i.environment_url = f.environment_url AND i.account_id = f.user_id
LEFT JOIN finops_user_roles r ON r.tenant_id = $1 AND r.environment_url = f.environment_url AND r.user_id = f.user_id
WHERE f.tenant_id = $1 AND i.entra_user_id IS NOT NULL AND coalesce(f.enabled, true)
GROUP BY 1
