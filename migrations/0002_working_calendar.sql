-- The working-day calendar (Art. 13, 38, 39): the State Council's holiday schedule per year.
-- A year is official once its row is here; a year without one is computed from the statutory
-- holidays and every deadline touching it is provisional (api/workdays).

CREATE TABLE calendar_years (
    year       integer PRIMARY KEY CHECK (year BETWEEN 1901 AND 2099),
    source     text NOT NULL,        -- 'chinesecalendar 1.11.0', or 'file 2027.csv sha256:... (notice)'
    loaded_by  text NOT NULL,        -- user id of the operator, or 'system' for the package seed
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

-- Only the days the notice names: days off (is_workday false, including weekend days inside a
-- holiday) and make-up working days (is_workday true, weekend days worked, 调休). Every other
-- day of an official year is a working day Monday to Friday and a rest day at weekends.
CREATE TABLE calendar_days (
    day        date PRIMARY KEY,
    year       integer NOT NULL REFERENCES calendar_years (year) ON DELETE CASCADE,
    is_workday boolean NOT NULL,
    name       text NOT NULL,        -- the holiday, or the holiday a make-up day belongs to
    CHECK (extract(year FROM day) = year),
    CHECK (NOT is_workday OR extract(isodow FROM day) IN (6, 7))
);
CREATE INDEX calendar_days_year_idx ON calendar_days (year);
