-- The subscriber's demographics per visit (name, birth date, gender, address: PHI, kept only in intake's schema),
-- filled when a message that carries them is applied; billing reads them for the 837P (loop 2010BA).
-- One row per visit, so the read is a primary-key look-up rather than a search through raw messages.
CREATE TABLE subscribers (
    facility      text NOT NULL,
    visit_number  text NOT NULL,
    data          jsonb NOT NULL,
    source        text NOT NULL CHECK (source IN ('hl7', 'fhir', 'json')),
    message_id    uuid,                       -- the stored message it came from (none for JSON)
    received_at   timestamptz NOT NULL,       -- when that message arrived: an older one never overwrites
    PRIMARY KEY (facility, visit_number)
);

-- Every disclosure of a subscriber to another service, for the auditor: who, as what, when, which visit (hashed).
CREATE TABLE disclosures (
    id                bigserial PRIMARY KEY,
    disclosed_at      timestamptz NOT NULL,
    subject           text NOT NULL,
    role              text NOT NULL,
    facility          text NOT NULL,
    visit_number_hash text NOT NULL,          -- sha256 hex of the visit number
    purpose           text NOT NULL
);
CREATE INDEX disclosures_by_visit ON disclosures (facility, visit_number_hash);

CREATE FUNCTION disclosures_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'disclosures is append-only';
END $$;
CREATE TRIGGER disclosures_append_only BEFORE UPDATE OR DELETE ON disclosures
    FOR EACH ROW EXECUTE FUNCTION disclosures_append_only();
