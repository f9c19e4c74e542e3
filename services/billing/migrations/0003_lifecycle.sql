-- The claim lifecycle after export: service facilities (837P loop 2310C), what comes back (999, 277CA, 835), and
-- the payer's claim control number that replacements and voids must quote in REF*F8.

CREATE TABLE service_facilities (
    code        text PRIMARY KEY,   -- the feed's facility code (PV1-3.4 / MSH-4), as on the claims
    name        text NOT NULL,
    npi         text NOT NULL,
    address     text NOT NULL,
    city        text NOT NULL,
    state       text NOT NULL,
    zip         text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Claim statuses added: rejected (999 or 277CA), accepted (277CA), paid, denied, reversed (835).
ALTER TABLE claims
    ADD COLUMN payer_claim_number text,            -- 277CA REF*1K, or 835 CLP07
    ADD COLUMN acknowledgement jsonb,              -- the latest 277CA outcome of this claim
    ADD COLUMN remittance jsonb,                   -- the latest 835 outcome of this claim (amounts, CAS, RARC, lines)
    ADD COLUMN paid_amount numeric(12, 2);

-- exported -> accepted | accepted-with-errors | partially-accepted | rejected (the 999's AK9-01)
ALTER TABLE batches
    ADD COLUMN status text NOT NULL DEFAULT 'exported',
    ADD COLUMN acknowledgement jsonb;

-- Every inbound X12 file that was read and applied, with its bytes; a file sent twice (same SHA-256) is applied once.
CREATE TABLE inbound_files (
    id           uuid PRIMARY KEY,
    seq          bigserial,                         -- arrival order (received_at comes from the service's clock)
    sha256       text NOT NULL UNIQUE,
    kind         text NOT NULL,                     -- 999, 277CA, 835
    source       text NOT NULL,                     -- api, directory
    filename     text,
    raw          bytea NOT NULL,
    summary      jsonb NOT NULL,
    received_at  timestamptz NOT NULL
);

CREATE TABLE remittances (
    id               uuid PRIMARY KEY,
    seq              bigserial,
    file_id          uuid NOT NULL REFERENCES inbound_files (id),
    payer_name       text,
    payment_amount   numeric(14, 2) NOT NULL,      -- BPR02
    payment_method   text,                          -- BPR04: ACH, CHK, NON
    payment_date     date,                          -- BPR16
    trace_number     text,                          -- TRN02 (check or EFT number)
    claims_paid      numeric(14, 2) NOT NULL,       -- sum of CLP04
    provider_adjustments numeric(14, 2) NOT NULL,   -- sum of PLB amounts
    claim_count      integer NOT NULL,
    received_at      timestamptz NOT NULL
);

CREATE TABLE remittance_claims (
    remittance_id       uuid NOT NULL REFERENCES remittances (id),
    seq                 integer NOT NULL,
    claim_id            uuid REFERENCES claims (id), -- NULL: CLP01 names no claim of ours
    claim_number        text NOT NULL,                -- CLP01
    status_code         text NOT NULL,                -- CLP02
    outcome             text NOT NULL,                -- paid, denied, reversed
    charge              numeric(12, 2) NOT NULL,
    paid                numeric(12, 2) NOT NULL,
    patient_responsibility numeric(12, 2),
    payer_claim_number  text,
    detail              jsonb NOT NULL,               -- adjustments, remarks, lines
    PRIMARY KEY (remittance_id, seq)
);
CREATE INDEX remittance_claims_claim ON remittance_claims (claim_id);
