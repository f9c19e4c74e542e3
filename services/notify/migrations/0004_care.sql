-- Issue 14 (care): crisis responders (the on-call clinician, a mobile crisis team) are reached like supervisors,
-- through contacts of their own kind, named by the crisis route in pairing's program settings.
ALTER TABLE contacts DROP CONSTRAINT contacts_person_kind_check;
ALTER TABLE contacts ADD CONSTRAINT contacts_person_kind_check
    CHECK (person_kind IN ('specialist', 'supervisor', 'responder'));
