-- identities: one row per Entra user and one per Dynamics 365 account (each Dataverse and F&O environment's users),
-- every Dynamics account joined to the Entra user it belongs to, with the method and a confidence, or left unjoined
-- with the reason. Nothing is dropped and nothing is guessed: an address two Entra users share is a conflict.
-- $1 is the tenant id. Rules, in order:
--   Dataverse: application users are never people; azureactivedirectoryobjectid = Entra id (object_id, 1.0); an
--     object id the directory no longer has (not_in_entra); domainname = UPN, any letter case (upn, 0.9);
--     internalemailaddress = the mail of exactly one Entra user (email, 0.7), of several (conflict); no user name
--     or an integration user (built_in); else no_match.
--   F&O: Alias = UPN (alias, 0.95 exact, 0.9 in another letter case); Email = the mail of exactly one Entra user
--     (email, 0.7), of several (conflict); else no_match.
WITH g AS (
    SELECT id, user_principal_name AS upn, lower(user_principal_name) AS lupn, lower(mail) AS lmail, display_name
    FROM graph_users WHERE tenant_id = $1
),
mail_owners AS (
    SELECT lmail, count(*) AS n, min(id) AS id FROM g WHERE lmail IS NOT NULL AND lmail <> '' GROUP BY lmail
),
dv AS (
    SELECT d.environment_url, d.systemuserid AS account_id, coalesce(nullif(d.domainname, ''), d.fullname) AS account_name,
           d.applicationid, d.azureactivedirectoryobjectid AS aad, d.domainname, d.isintegrationuser,
           byid.id AS id_match, byupn.id AS upn_match, mo.n AS mail_n, mo.id AS mail_match, lower(d.internalemailaddress) AS lmail
    FROM dataverse_users d
    LEFT JOIN g byid ON byid.id = d.azureactivedirectoryobjectid
    LEFT JOIN g byupn ON byupn.lupn = lower(d.domainname)
    LEFT JOIN mail_owners mo ON mo.lmail = lower(d.internalemailaddress)
    WHERE d.tenant_id = $1
),
dv_rows AS (
    SELECT 'dataverse' AS source, environment_url, account_id, account_name,
           CASE WHEN applicationid IS NOT NULL THEN NULL
                WHEN id_match IS NOT NULL THEN id_match
                WHEN aad IS NOT NULL THEN NULL
                WHEN upn_match IS NOT NULL THEN upn_match
                WHEN mail_n = 1 THEN mail_match END AS entra_user_id,
           CASE WHEN applicationid IS NOT NULL THEN NULL
                WHEN id_match IS NOT NULL THEN 'object_id'
                WHEN aad IS NOT NULL THEN NULL
                WHEN upn_match IS NOT NULL THEN 'upn'
                WHEN mail_n = 1 THEN 'email' END AS match_method,
           CASE WHEN applicationid IS NOT NULL THEN NULL
                WHEN id_match IS NOT NULL THEN 1.0
                WHEN aad IS NOT NULL THEN NULL
                WHEN upn_match IS NOT NULL THEN 0.9
                WHEN mail_n = 1 THEN 0.7 END AS confidence,
           CASE WHEN applicationid IS NOT NULL THEN 'application_user'
                WHEN id_match IS NOT NULL THEN NULL
                WHEN aad IS NOT NULL THEN 'not_in_entra'
                WHEN upn_match IS NOT NULL THEN NULL
                WHEN mail_n = 1 THEN NULL
                WHEN mail_n > 1 THEN 'conflict'
                WHEN domainname IS NULL OR domainname = '' OR isintegrationuser THEN 'built_in'
                ELSE 'no_match' END AS unmatched_reason,
           CASE WHEN applicationid IS NOT NULL THEN 'application user ' || applicationid
                WHEN id_match IS NULL AND aad IS NOT NULL THEN 'Entra object id ' || aad || ' is not in the directory'
                WHEN id_match IS NULL AND upn_match IS NULL AND mail_n > 1 THEN 'e-mail ' || lmail || ' belongs to ' || mail_n || ' Entra users'
           END AS detail
    FROM dv
),
fo AS (
    SELECT f.environment_url, f.user_id AS account_id, coalesce(f.alias, f.user_name) AS account_name, f.alias,
           byalias.id AS alias_match, byalias.upn AS alias_upn, mo.n AS mail_n, mo.id AS mail_match, lower(f.email) AS lmail
    FROM finops_users f
    LEFT JOIN g byalias ON byalias.lupn = lower(f.alias)
    LEFT JOIN mail_owners mo ON mo.lmail = lower(f.email)
    WHERE f.tenant_id = $1
),
fo_rows AS (
    SELECT 'finops' AS source, environment_url, account_id, account_name,
           CASE WHEN alias_match IS NOT NULL THEN alias_match WHEN mail_n = 1 THEN mail_match END AS entra_user_id,
           CASE WHEN alias_match IS NOT NULL THEN 'alias' WHEN mail_n = 1 THEN 'email' END AS match_method,
           CASE WHEN alias_match IS NOT NULL AND alias = alias_upn THEN 0.95
                WHEN alias_match IS NOT NULL THEN 0.9
                WHEN mail_n = 1 THEN 0.7 END AS confidence,
           CASE WHEN alias_match IS NOT NULL OR mail_n = 1 THEN NULL
                WHEN mail_n > 1 THEN 'conflict'
                ELSE 'no_match' END AS unmatched_reason,
           CASE WHEN alias_match IS NOT NULL AND alias <> alias_upn THEN 'Alias ' || alias || ' is the UPN ' || alias_upn || ' in another letter case'
                WHEN alias_match IS NULL AND mail_n > 1 THEN 'e-mail ' || lmail || ' belongs to ' || mail_n || ' Entra users'
           END AS detail
    FROM fo
),
accounts AS (
    SELECT * FROM dv_rows UNION ALL SELECT * FROM fo_rows
)
SELECT id AS person_id, id AS entra_user_id, upn AS user_principal_name, display_name,
       'entra' AS source, CAST(NULL AS VARCHAR) AS environment_url, id AS account_id, upn AS account_name,
       CAST(NULL AS VARCHAR) AS match_method, CAST(NULL AS DOUBLE) AS confidence,
       CAST(NULL AS VARCHAR) AS unmatched_reason, CAST(NULL AS VARCHAR) AS detail
FROM g
UNION ALL
SELECT coalesce(a.entra_user_id, a.source || ':' || a.environment_url || ':' || a.account_id) AS person_id,
       a.entra_user_id, g.upn, g.display_name, a.source, a.environment_url, a.account_id, a.account_name,
       a.match_method, CAST(a.confidence AS DOUBLE), a.unmatched_reason, a.detail
FROM accounts a LEFT JOIN g ON g.id = a.entra_user_id
ORDER BY person_id, source, environment_url, account_id
