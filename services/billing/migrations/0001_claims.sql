-- What billing needs to know of each visit (payer, member, diagnoses, age), from intake's events.
CREATE TABLE visits (
    facility      text NOT NULL,
    visit_number  text NOT NULL,
    data          jsonb NOT NULL,
    cancelled     boolean NOT NULL DEFAULT false,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility, visit_number)
);

CREATE SEQUENCE claim_numbers;
CREATE SEQUENCE interchange_control_numbers MAXVALUE 999999999;

-- One claim per encounter (frequency 1); replacements (7) and voids (8) point at their original.
CREATE TABLE claims (
    id                 uuid PRIMARY KEY,
    claim_number       text NOT NULL UNIQUE,
    encounter_id       uuid NOT NULL,
    facility           text NOT NULL,
    visit_number       text NOT NULL,
    status             text NOT NULL,  -- awaiting-visit, held, prepared, approved, exported, replaced, voided
    frequency          text NOT NULL DEFAULT '1',
    original_claim_id  uuid REFERENCES claims (id),
    payer              text,           -- rule set id, e.g. NJ-MEDICAID
    plan_id            text,           -- the feed's IN1-2, e.g. NJMCD
    member_id          text,
    service_date       date,
    units              integer NOT NULL DEFAULT 0,
    charge             numeric(12, 2) NOT NULL DEFAULT 0,
    document           jsonb NOT NULL DEFAULT '{}',
    hold_reasons       jsonb NOT NULL DEFAULT '[]',
    manual_hold        boolean NOT NULL DEFAULT false,
    encounter          jsonb NOT NULL,
    batch_id           uuid,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX claims_one_per_encounter ON claims (encounter_id) WHERE frequency = '1';
CREATE INDEX claims_visit ON claims (facility, visit_number);
CREATE INDEX claims_member ON claims (payer, member_id, service_date);
CREATE INDEX claims_status ON claims (status, payer);

CREATE TABLE batches (
    id                          uuid PRIMARY KEY,
    payer                       text NOT NULL,
    interchange_control_number  integer NOT NULL UNIQUE,
    claim_count                 integer NOT NULL,
    content                     text NOT NULL,
    created_at                  timestamptz NOT NULL DEFAULT now()
);
