CREATE TABLE specialists (
    id          uuid PRIMARY KEY,
    npi         text NOT NULL UNIQUE,
    status      text NOT NULL,
    data        jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per ED visit that needs a peer.
CREATE TABLE cases (
    id            uuid PRIMARY KEY,
    facility      text NOT NULL,
    visit_number  text NOT NULL,
    status        text NOT NULL,
    visit         jsonb NOT NULL,
    opened_at     timestamptz NOT NULL,
    UNIQUE (facility, visit_number)
);

CREATE TABLE assignments (
    id             uuid PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    specialist_id  uuid NOT NULL REFERENCES specialists (id),
    facility       text NOT NULL,
    visit_number   text NOT NULL,
    status         text NOT NULL,
    attempt        integer NOT NULL,
    offered_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    accepted_at    timestamptz,
    explanation    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX assignments_visit ON assignments (facility, visit_number);
CREATE INDEX assignments_specialist ON assignments (specialist_id, status);

CREATE TABLE encounters (
    id             uuid PRIMARY KEY,
    assignment_id  uuid NOT NULL REFERENCES assignments (id),
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz NOT NULL,
    modality       text NOT NULL,
    kind           text NOT NULL,
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now()
);
