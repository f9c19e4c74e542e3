-- Every attempt to reach Part 2 data is audited, also one that never authenticated: it declared no purpose of use.
ALTER TABLE audit_log ALTER COLUMN purpose DROP NOT NULL;
