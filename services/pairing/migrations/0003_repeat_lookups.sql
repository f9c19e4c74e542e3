-- A follow-up contact is known by its case and time (a repeated POST /cases/{id}/contacts finds it instead of
-- adding one), and a repeated consent is found as the assignment's latest. Not UNIQUE, so that a database that
-- already holds doubles from before still migrates; the routes hold the case's or the assignment's row lock while
-- they look, so no new double can be written.
CREATE INDEX contacts_by_case_at ON contacts (case_id, at);
CREATE INDEX consents_by_assignment ON consents (assignment_id, recorded_at);
