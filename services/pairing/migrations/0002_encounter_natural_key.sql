-- An encounter is known by its assignment and start (a repeated POST /encounters finds it instead of adding one).
-- Not UNIQUE, so that a database that already holds doubles from before still migrates; the route holds the
-- assignment's row lock while it looks, so no new double can be written.
CREATE INDEX encounters_by_assignment_start ON encounters (assignment_id, started_at);
