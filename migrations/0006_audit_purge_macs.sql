-- Art. 21, 41: a purge record must be the platform's own. Each new row of audit_purges carries
-- the retention class, the month and an HMAC (made by the application with CREDIT_AUDIT_KEY,
-- which the database never holds) over partition, class, month, row count, seal count and seal
-- root. `credit audit verify` accepts a purge only for a three-year month more than three years
-- old whose purge act is in the trail; rows written before this migration have no mac and are
-- accepted only when a sealed purge act with the same partition, rows and seals vouches for them.
ALTER TABLE audit_purges
    ADD COLUMN retention text,
    ADD COLUMN month     date,
    ADD COLUMN mac       bytea;

-- Partition upkeep no longer trusts a purge record blindly: only a three-year month that is past
-- its three years stays purged; any other month is made (again), so a forged purge row can
-- neither keep the current month from being created nor hide a long-term month.
CREATE OR REPLACE FUNCTION credit_audit_partitions(first_month date, last_month date) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', first_month)::date;
    made integer := 0;
    cls text;
    part text;
BEGIN
    WHILE m <= last_month LOOP
        FOREACH cls IN ARRAY ARRAY['three_years', 'long_term'] LOOP
            part := format('query_log_%s_%s', cls, to_char(m, 'YYYY_MM'));
            IF to_regclass(part) IS NULL
               AND NOT (cls = 'three_years'
                        AND m + interval '1 month' <= now() - interval '3 years'
                        AND EXISTS (SELECT 1 FROM audit_purges p WHERE p.partition = part)) THEN
                EXECUTE format(
                    'CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                    part, 'query_log_' || cls,
                    m::timestamp AT TIME ZONE 'UTC',
                    (m + interval '1 month')::timestamp AT TIME ZONE 'UTC');
                EXECUTE format('REVOKE ALL ON %I FROM credit_app', part);
                made := made + 1;
            END IF;
        END LOOP;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN made;
END $$;
