CREATE TABLE specialists (
    id             uuid PRIMARY KEY,
    npi            text NOT NULL UNIQUE,
    status         text NOT NULL,
    -- Why a peer went on leave or inactive (e.g. recurrence-of-use): shown to supervisors only.
    status_reason  text,
    data           jsonb NOT NULL,
    last_paged_at  timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- Concrete shift windows; recurring patterns are expanded into these rows when they are set.
CREATE TABLE shifts (
    id             bigserial PRIMARY KEY,
    specialist_id  uuid NOT NULL REFERENCES specialists (id) ON DELETE CASCADE,
    facility       text NOT NULL,
    starts_at      timestamptz NOT NULL,
    ends_at        timestamptz NOT NULL,
    CHECK (ends_at > starts_at)
);
CREATE INDEX shifts_time ON shifts (starts_at, ends_at);
CREATE INDEX shifts_specialist ON shifts (specialist_id);

-- Patients a peer must not serve, by a hash of the feed's patient identifier (no identifier kept in clear).
CREATE TABLE recusals (
    specialist_id  uuid NOT NULL REFERENCES specialists (id) ON DELETE CASCADE,
    patient_hash   text NOT NULL,
    PRIMARY KEY (specialist_id, patient_hash)
);
CREATE INDEX recusals_patient ON recusals (patient_hash);

-- One row per ED visit that needs a peer; status: paging, assigned, escalated, follow-up, closed.
CREATE TABLE cases (
    id             uuid PRIMARY KEY,
    facility       text NOT NULL,
    visit_number   text NOT NULL,
    status         text NOT NULL,
    visit          jsonb NOT NULL,
    patient_hash   text,
    specialist_id  uuid REFERENCES specialists (id),
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz,
    close_reason   text,
    UNIQUE (facility, visit_number)
);
CREATE INDEX cases_specialist ON cases (specialist_id) WHERE status <> 'closed';

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
    declined_at    timestamptz,
    decline_reason text,
    arrived_at     timestamptz,
    closed_at      timestamptz,
    transfer_note  text,
    explanation    jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX assignments_visit ON assignments (facility, visit_number);
CREATE INDEX assignments_specialist ON assignments (specialist_id, status);
CREATE INDEX assignments_case ON assignments (case_id);

-- Stored deadlines: the dispatch loop takes due rows with FOR UPDATE SKIP LOCKED and marks them done in
-- the same transaction as their effect, so a restart neither loses nor repeats one.
CREATE TABLE deadlines (
    id             bigserial PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    assignment_id  uuid REFERENCES assignments (id),
    kind           text NOT NULL,
    due_at         timestamptz NOT NULL,
    done_at        timestamptz,
    outcome        text,
    UNIQUE (assignment_id, kind)
);
CREATE INDEX deadlines_due ON deadlines (due_at) WHERE done_at IS NULL;

-- At most one escalation per case and kind: a redelivered event or a restarted loop cannot repeat it.
CREATE TABLE escalations (
    case_id        uuid NOT NULL REFERENCES cases (id),
    kind           text NOT NULL,
    facility       text NOT NULL,
    supervisor     text,
    reason         text NOT NULL,
    escalated_at   timestamptz NOT NULL,
    PRIMARY KEY (case_id, kind)
);

CREATE TABLE consents (
    id              uuid PRIMARY KEY,
    assignment_id   uuid NOT NULL REFERENCES assignments (id),
    granted         boolean NOT NULL,
    scope           text,
    accepts_support boolean NOT NULL,
    contact_ok      boolean NOT NULL,
    recorded_at     timestamptz NOT NULL
);

CREATE TABLE encounters (
    id             uuid PRIMARY KEY,
    assignment_id  uuid NOT NULL REFERENCES assignments (id),
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz NOT NULL,
    modality       text NOT NULL,
    kind           text NOT NULL,
    patient_at_home boolean,
    note           text,
    created_at     timestamptz NOT NULL DEFAULT now()
);

-- The follow-up plan: touchpoints (follow-up, re-offer) and the contacts recorded against them.
CREATE TABLE touchpoints (
    id             bigserial PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    kind           text NOT NULL,
    due_at         timestamptz NOT NULL,
    done_at        timestamptz,
    outcome        text
);
CREATE INDEX touchpoints_case ON touchpoints (case_id);

CREATE TABLE contacts (
    id             uuid PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    at             timestamptz NOT NULL,
    outcome        text NOT NULL,
    recorded_by    text NOT NULL,
    touchpoint_id  bigint REFERENCES touchpoints (id)
);
