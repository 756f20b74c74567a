-- The lookup benchmark's peer (bench/README.md, Peer): the same disclosure as the platform's for
-- the bench's askers, written the PostGraphile way: row-level security on the platform's own
-- tables, security-invoker views in schema `peer` (the only schema PostGraphile exposes), and
-- one VOLATILE function, peer.lookup_subject(key, purpose), that is the lookup: it reads what the
-- asker may see and writes a signed log row, in the request's transaction.
--
-- Only for a throw-away bench or test database: it turns on row-level security on `records`
-- and `authorizations` (with a pass-through policy for credit_app, so the platform is
-- unaffected). Run by the database owner, after the migrations, in one transaction.
-- peer_private.mac(key, message), the log row's signature, is made by bench/peer_setup.py: HMAC-SHA256
-- with pgcrypto where the server has it, else sha256(key || message).

-- Roles are cluster-wide: made once, shared by every bench database on the server.
DO $$
BEGIN
    CREATE ROLE peer_anonymous NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN
    CREATE ROLE peer_credit_service NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
END $$;
DO $$
BEGIN  -- PostGraphile connects as the owner and SET LOCAL ROLE to the token's role
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE format('GRANT peer_anonymous, peer_credit_service TO %I', current_user);
    END IF;
END $$;

CREATE SCHEMA peer;
CREATE SCHEMA peer_private;  -- never exposed: helpers, the log key
REVOKE ALL ON SCHEMA peer_private FROM PUBLIC;
GRANT USAGE ON SCHEMA peer, peer_private, public TO peer_anonymous, peer_credit_service;

-- ------------------------------------------------------------------------------------------
-- Facts the decision needs: the catalog in force, the record's state, the asker.

-- The catalog in force (the newest published year not after today's, China time), one row per
-- item, with the fields to mask precomputed. Materialized, as the platform holds its catalog in
-- memory: refreshed when a catalog is published (REFRESH MATERIALIZED VIEW; the bench's catalog
-- does not change while it runs).
CREATE MATERIALIZED VIEW peer_private.items AS
SELECT DISTINCT ON (e.code) e.code, e.disclosure, e.dishonest, e.publicity_months,
       ARRAY(SELECT f ->> 'name' FROM jsonb_array_elements(e.fields) f
             WHERE f ->> 'sensitivity' = 'id_number') AS id_fields,
       ARRAY(SELECT f ->> 'name' FROM jsonb_array_elements(e.fields) f
             WHERE f ->> 'sensitivity' = 'person_name') AS name_fields
FROM catalog_entries e JOIN catalogs c ON c.year = e.year AND c.status = 'published'
WHERE e.year <= extract(year FROM now() AT TIME ZONE 'Asia/Shanghai')
ORDER BY e.code, e.year DESC;
CREATE UNIQUE INDEX ON peer_private.items (code);

-- Art. 20 (api/disclosure/rules.py record_state): dishonesty information five years from the
-- decision, an item's own publicity period, or the record's own status.
CREATE FUNCTION peer_private.record_state(status text, dishonest boolean, publicity_months int,
                                          decided_on date) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN status IN ('deleted', 'repaired', 'archived') THEN status
        WHEN dishonest AND decided_on + interval '5 years'
             < (now() AT TIME ZONE 'Asia/Shanghai')::date THEN 'archived'
        WHEN publicity_months IS NOT NULL AND decided_on + make_interval(months => publicity_months)
             < (now() AT TIME ZONE 'Asia/Shanghai')::date THEN 'archived'
        ELSE 'live' END
$$;

-- The asker as the platform's policy names it: role and organisation (token claims).
CREATE FUNCTION peer_private.asker_role() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT CASE current_user WHEN 'peer_credit_service' THEN 'credit_service' ELSE 'public' END
$$;
CREATE FUNCTION peer_private.asker_org() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT nullif(current_setting('jwt.claims.org', true), '')
$$;

-- Field entitlements: the policy's p2 lines (policies/policy.csv), loaded by bench/lookup.py.
-- Organisation lines first, then role lines; someone with no line is not limited.
CREATE TABLE peer_private.entitlements (
    who    text NOT NULL,    -- org:<code> | role:<role>
    item   text NOT NULL,    -- item code or *
    fields text[],           -- NULL: all fields
    PRIMARY KEY (who, item)
);
CREATE FUNCTION peer_private.limited_who(org text, role text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN EXISTS (SELECT 1 FROM peer_private.entitlements WHERE who = 'org:' || org) THEN 'org:' || org
        WHEN EXISTS (SELECT 1 FROM peer_private.entitlements WHERE who = 'role:' || role) THEN 'role:' || role
    END
$$;
CREATE FUNCTION peer_private.asker_limited() RETURNS text LANGUAGE sql STABLE AS $$
    SELECT peer_private.limited_who(peer_private.asker_org(), peer_private.asker_role())
$$;
-- `who` is (SELECT peer_private.asker_limited()) at the call sites: evaluated once per statement.
CREATE FUNCTION peer_private.entitled(who text, item_code text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT who IS NULL OR EXISTS (SELECT 1 FROM peer_private.entitlements e
                                  WHERE e.who = entitled.who AND e.item IN (item_code, '*'))
$$;
CREATE FUNCTION peer_private.entitled_fields(who text, item_code text) RETURNS text[]
LANGUAGE sql STABLE AS $$
    SELECT e.fields FROM peer_private.entitlements e
    WHERE e.who = entitled_fields.who AND e.item IN (item_code, '*')
    ORDER BY e.item = '*' LIMIT 1
$$;

-- Masks for askers who may not see identity numbers (everyone here: the policy's p3 lines
-- name only state organs and the verified subject). id_number fields: 110102********0078;
-- person_name fields: 张*. (The platform also scans free text for ID numbers; not done here.)
CREATE FUNCTION peer_private.mask_document_number(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN length(v) >= 15 THEN left(v, 6) || repeat('*', length(v) - 10) || right(v, 4)
        WHEN length(v) <= 4 THEN repeat('*', length(v))
        ELSE left(v, 1) || repeat('*', length(v) - 3) || right(v, 2) END
$$;
CREATE FUNCTION peer_private.mask_name(v text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT left(v, 1) || repeat('*', greatest(length(v) - 1, 1))
$$;
CREATE FUNCTION peer_private.shown_data(data jsonb, id_fields text[], name_fields text[],
                                        allowed text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN allowed IS NULL AND cardinality(id_fields) + cardinality(name_fields) = 0
                THEN data
                ELSE (SELECT coalesce(jsonb_object_agg(d.k, CASE
                          WHEN jsonb_typeof(d.v) <> 'string' THEN d.v
                          WHEN d.k = ANY (id_fields)
                          THEN to_jsonb(peer_private.mask_document_number(d.v #>> '{}'))
                          WHEN d.k = ANY (name_fields) THEN to_jsonb(peer_private.mask_name(d.v #>> '{}'))
                          ELSE d.v END), '{}'::jsonb)
                      FROM jsonb_each(data) AS d(k, v)
                      WHERE allowed IS NULL OR d.k = ANY (allowed)) END
$$;

-- ------------------------------------------------------------------------------------------
-- Row-level security: what each asker may read (policies/policy.csv, rows for `public` and
-- `credit_service`), and only of the subject whose lookup is under way in this transaction
-- (peer.lookup_subject sets peer.subject): no read of a record without its log row.

ALTER TABLE records ENABLE ROW LEVEL SECURITY;
ALTER TABLE authorizations ENABLE ROW LEVEL SECURITY;
CREATE POLICY platform_app ON records TO credit_app USING (true) WITH CHECK (true);
CREATE POLICY platform_app ON authorizations TO credit_app USING (true) WITH CHECK (true);

-- Art. 19: an authorization counts for the organisation it names, and only while effective.
CREATE POLICY peer_own_grants ON authorizations FOR SELECT TO peer_credit_service
USING (grantee_org = (SELECT peer_private.asker_org()) AND state = 'effective' AND revoked_at IS NULL
       AND valid_from <= now() AND now() < valid_until);

-- Anyone: public records while publicly disclosed.
CREATE POLICY peer_public ON records FOR SELECT TO peer_anonymous, peer_credit_service
USING (
    subject_key = (SELECT current_setting('peer.subject', true)) AND status <> 'deleted'
    AND EXISTS (
        SELECT 1 FROM peer_private.items i
        WHERE i.code = records.item_code AND i.disclosure = 'public'
          AND peer_private.record_state(records.status, i.dishonest, i.publicity_months,
                                        records.decided_on) = 'live'
          AND peer_private.entitled((SELECT peer_private.asker_limited()), i.code))
);

-- Credit service agencies: public and authorized information, live, archived or repaired, under
-- the subject's written authorization naming the agency, this purpose and the item or its class.
CREATE POLICY peer_authorized ON records FOR SELECT TO peer_credit_service
USING (
    subject_key = (SELECT current_setting('peer.subject', true)) AND status <> 'deleted'
    AND EXISTS (
        SELECT 1 FROM peer_private.items i
        WHERE i.code = records.item_code AND i.disclosure IN ('public', 'authorized')
          AND peer_private.entitled((SELECT peer_private.asker_limited()), i.code)
          AND EXISTS (
              SELECT 1 FROM authorizations a  -- under peer_own_grants
              WHERE a.subject_key = records.subject_key
                AND a.purpose = (SELECT current_setting('peer.purpose', true))
                AND (i.code = ANY (a.scope_items) OR i.disclosure = ANY (a.scope_classes))))
);

GRANT SELECT ON subjects, records, authorizations, catalog_entries, catalogs
    TO peer_anonymous, peer_credit_service;
GRANT SELECT ON peer_private.items, peer_private.entitlements
    TO peer_anonymous, peer_credit_service;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA peer_private TO peer_anonymous, peer_credit_service;

-- ------------------------------------------------------------------------------------------
-- What PostGraphile exposes.

-- The key is the one the asker gave; a natural person's name is masked as the platform does.
CREATE VIEW peer.subjects WITH (security_invoker = true) AS
SELECT s.key,
       CASE WHEN s.subject_type = 'natural_person'
            THEN peer_private.mask_name(s.name) ELSE s.name END AS name,
       s.subject_type, s.status
FROM subjects s
WHERE s.key = (SELECT current_setting('peer.subject', true));
COMMENT ON VIEW peer.subjects IS E'@primaryKey key\n@omit all,create,update,delete';

CREATE VIEW peer.records WITH (security_invoker = true) AS
SELECT r.id, r.subject_key, r.item_code, r.decided_on,
       peer_private.shown_data(r.data, i.id_fields, i.name_fields,
                               peer_private.entitled_fields((SELECT peer_private.asker_limited()), r.item_code)) AS data,
       r.status,
       CASE WHEN i.disclosure = 'public'
                 AND peer_private.record_state(r.status, i.dishonest, i.publicity_months,
                                               r.decided_on) = 'live'
            THEN 'public' ELSE 'authorization' END AS basis
FROM records r JOIN peer_private.items i ON i.code = r.item_code
WHERE r.status <> 'deleted';  -- and row-level security on records
COMMENT ON VIEW peer.records IS
    E'@foreignKey (subject_key) references peer.subjects (key)\n@omit all,create,update,delete';
GRANT SELECT ON peer.subjects, peer.records TO peer_anonymous, peer_credit_service;

-- The log: one row per lookup, written in the lookup's transaction, signed with the bench's
-- audit key. Nobody but the owner reads or writes it directly.
CREATE TABLE peer.lookups (
    id                bigserial PRIMARY KEY,
    entry             uuid NOT NULL DEFAULT gen_random_uuid(),
    at                timestamptz NOT NULL DEFAULT now(),
    user_id           text,
    user_name         text,
    org_code          text,
    role              text NOT NULL,
    subject_key       text NOT NULL,
    purpose           text,
    outcome           text NOT NULL,
    disclosed         jsonb NOT NULL,
    withheld          jsonb NOT NULL,
    authorization_ids uuid[] NOT NULL,
    mac               bytea NOT NULL
);
CREATE INDEX lookups_subject_idx ON peer.lookups (subject_key, id);
CREATE INDEX lookups_org_idx ON peer.lookups (org_code, id);
ALTER TABLE peer.lookups ENABLE ROW LEVEL SECURITY;  -- no policy: the askers see no row
COMMENT ON TABLE peer.lookups IS
    E'@foreignKey (subject_key) references peer.subjects (key)\n@omit all,create,update,delete';
COMMENT ON COLUMN peer.lookups.mac IS E'@omit';

CREATE TABLE peer_private.log_key (key bytea NOT NULL);

-- The lookup: decide (row-level security above), log, return the log row; the answer's subject and
-- records are read through the returned row in the same transaction. If the log row cannot be
-- written the transaction fails and nothing is returned.
CREATE FUNCTION peer_private.write_log(subject text, purpose text, role text, org text,
                                       shown jsonb) RETURNS peer.lookups
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
#variable_conflict use_variable
DECLARE
    known boolean;
    withheld jsonb;
    auths uuid[];
    outcome text;
    logged peer.lookups;
BEGIN
    known := EXISTS (SELECT 1 FROM subjects s WHERE s.key = subject);
    -- not shown, counted by class: what the asker could have been shown or may ask for
    -- (as the platform: an archived record the asker could never obtain is not mentioned)
    SELECT coalesce(jsonb_object_agg(w.disclosure, w.n), '{}'::jsonb) INTO withheld
    FROM (SELECT i.disclosure, count(*) AS n
          FROM records r JOIN peer_private.items i ON i.code = r.item_code
          WHERE r.subject_key = subject AND r.status <> 'deleted'
            AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(shown) x
                            WHERE x ->> 'record' = r.id::text)
            AND (peer_private.record_state(r.status, i.dishonest, i.publicity_months, r.decided_on) = 'live'
                 OR (role = 'credit_service' AND i.disclosure IN ('public', 'authorized')))
          GROUP BY i.disclosure) w;
    SELECT coalesce(array_agg(a.id ORDER BY a.id), '{}') INTO auths
    FROM authorizations a
    WHERE a.subject_key = subject AND a.grantee_org = org AND a.purpose = write_log.purpose
      AND a.state = 'effective' AND a.revoked_at IS NULL
      AND a.valid_from <= now() AND now() < a.valid_until
      AND EXISTS (SELECT 1 FROM jsonb_array_elements(shown) x
                  JOIN peer_private.items i ON i.code = x ->> 'item'
                  WHERE x ->> 'basis' = 'authorization'
                    AND (i.code = ANY (a.scope_items) OR i.disclosure = ANY (a.scope_classes)));
    outcome := CASE WHEN NOT known THEN 'not_found'
                    WHEN withheld = '{}'::jsonb THEN 'disclosed'
                    WHEN jsonb_array_length(shown) = 0 THEN 'refused'
                    ELSE 'partial' END;
    INSERT INTO peer.lookups (user_id, user_name, org_code, role, subject_key, purpose, outcome,
                              disclosed, withheld, authorization_ids, mac)
    SELECT current_setting('jwt.claims.sub', true), current_setting('jwt.claims.name', true),
           org, role, subject, purpose, outcome, shown, jsonb_build_object('records', withheld),
           auths, peer_private.mac(k.key, concat_ws('|', current_setting('jwt.claims.sub', true),
               org, role, subject, purpose, outcome, shown::text, withheld::text, auths::text))
    FROM peer_private.log_key k
    RETURNING * INTO STRICT logged;
    RETURN logged;
END $$;
REVOKE ALL ON FUNCTION peer_private.write_log(text, text, text, text, jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION peer_private.write_log(text, text, text, text, jsonb)
    TO peer_anonymous, peer_credit_service;

CREATE FUNCTION peer.lookup_subject(key text, purpose text DEFAULT NULL) RETURNS peer.lookups
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    shown jsonb;
BEGIN
    PERFORM set_config('peer.subject', lookup_subject.key, true),
            set_config('peer.purpose', coalesce(lookup_subject.purpose, ''), true);
    SELECT coalesce(jsonb_agg(jsonb_build_object('record', r.id, 'item', r.item_code,
                                                 'basis', r.basis)
                              ORDER BY r.decided_on DESC, r.id), '[]'::jsonb)
    INTO shown FROM peer.records r WHERE r.subject_key = lookup_subject.key;
    RETURN peer_private.write_log(lookup_subject.key, lookup_subject.purpose,
                                  peer_private.asker_role(), peer_private.asker_org(), shown);
END $$;
COMMENT ON FUNCTION peer.lookup_subject(text, text) IS
    'One subject looked up for one purpose: the log row, with the subject and its records.';
GRANT EXECUTE ON FUNCTION peer.lookup_subject(text, text) TO peer_anonymous, peer_credit_service;
