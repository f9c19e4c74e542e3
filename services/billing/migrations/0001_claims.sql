-- What billing needs to know of each visit (payer, member, diagnoses, age), from intake's events.
CREATE TABLE visits (
    facility      text NOT NULL,
    visit_number  text NOT NULL,
    data          jsonb NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (facility, visit_number)
);

CREATE TABLE claims (
    id            uuid PRIMARY KEY,
    encounter_id  uuid NOT NULL UNIQUE,
    facility      text NOT NULL,
    visit_number  text NOT NULL,
    status        text NOT NULL,
    payer         text,
    encounter     jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX claims_visit ON claims (facility, visit_number);
