-- audit_summary (not a mart: a table the marts share, computed once and never landed): the tenant's Dataverse audit
-- log read once for every mart that needs it. One row per environment and audited user id: at, detail, access_at
-- and change_at are user_activity's Dataverse evidence of that account (the newest user access, 64/65, or record
-- change, 1/2/3, what it was, and the newest of each kind), first_at the oldest audit record of any action (the
-- log's horizon). user_activity takes its Dataverse evidence and horizon from it, findings the accounts that acted:
-- the log is read here once instead of three times. It is read through its _history view: a maximum or minimum
-- does not change with the copies overlapping runs store, and skipping the view's de-duplication keeps a large log
-- cheap. $1 is the tenant id.
SELECT environment_url, user_id,
       max(createdon) FILTER (WHERE action IN (1, 2, 3, 64, 65)) AS at,
       -- the environment's host is the same for every row of the group: added after grouping, not per record
       arg_max(CASE WHEN action IN (64, 65) THEN 'Dataverse user access in ' ELSE 'Dataverse change to ' || coalesce(object_type, 'a record') || ' in ' END,
               createdon) FILTER (WHERE action IN (1, 2, 3, 64, 65)) || regexp_extract(environment_url, '^https?://([^/]+)', 1) AS detail,
       max(createdon) FILTER (WHERE action IN (64, 65)) AS access_at,
       max(createdon) FILTER (WHERE action IN (1, 2, 3)) AS change_at,
       min(createdon) AS first_at
FROM dataverse_audits_history
WHERE tenant_id = $1
GROUP BY environment_url, user_id
