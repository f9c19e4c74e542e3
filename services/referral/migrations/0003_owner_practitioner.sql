-- The Task owner's NPI and display name (staff, not patient data), so the push can have the hospital create the
-- peer's PractitionerRole conditionally by NPI instead of pointing at one it does not have.
ALTER TABLE referrals ADD COLUMN owner_npi text, ADD COLUMN owner_name text;
