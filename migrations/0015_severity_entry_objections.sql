-- Penalty publicity by severity (RULES.md "Use"): a catalog item's rule of public period and
-- repair wait per severity (api/publicity.py). The severity itself travels in the record's data
-- field the rule names, so corrections and versions carry it like any other value.
-- Adding a column leaves published catalogs' rows as they were: an item without a rule keeps
-- its fixed publicity period.
ALTER TABLE catalog_entries ADD COLUMN severity jsonb
    CHECK (severity IS NULL OR (jsonb_typeof(severity) = 'object' AND severity ? 'field'));

-- Objection against a list entry itself (Art. 25, 37-38): a rights case about an entry, not a
-- record. The entry is shown disputed while the case is open; the provider that listed it
-- answers; an entry found wrong is removed.
ALTER TABLE rights_cases ALTER COLUMN record_id DROP NOT NULL;
ALTER TABLE rights_cases ADD COLUMN entry_id uuid REFERENCES list_entries (id);
ALTER TABLE rights_cases DROP CONSTRAINT rights_cases_kind_check;
ALTER TABLE rights_cases ADD CONSTRAINT rights_cases_kind_check
    CHECK (kind IN ('objection', 'repair', 'entry_objection'));
ALTER TABLE rights_cases DROP CONSTRAINT rights_cases_outcome_check;
ALTER TABLE rights_cases ADD CONSTRAINT rights_cases_outcome_check
    CHECK (outcome IN ('corrected', 'upheld', 'deleted', 'repaired', 'rejected', 'entry_removed',
                       'entry_stands'));
ALTER TABLE rights_cases ADD CONSTRAINT rights_cases_about_check
    CHECK ((kind = 'entry_objection') = (entry_id IS NOT NULL AND record_id IS NULL)
           AND (kind = 'entry_objection' OR record_id IS NOT NULL));
CREATE UNIQUE INDEX rights_cases_open_entry_idx ON rights_cases (entry_id)
    WHERE closed_at IS NULL AND entry_id IS NOT NULL;
-- an entry objection states its ground too (Art. 37: error or omission, most often)
ALTER TABLE rights_cases DROP CONSTRAINT rights_cases_check;
ALTER TABLE rights_cases ADD CONSTRAINT rights_cases_ground_given_check
    CHECK ((kind IN ('objection', 'entry_objection')) = (ground IS NOT NULL));
