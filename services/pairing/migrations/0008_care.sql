-- Issue 14 (care): the crisis path, re-matching one case, supervision, renewal warnings and confidential leave.

-- A case on the crisis path (intentional self-harm, a crisis keyword, or raised by a peer); reopened after an A13.
ALTER TABLE cases ADD COLUMN crisis boolean NOT NULL DEFAULT false;
ALTER TABLE cases ADD COLUMN reopened_at timestamptz;

-- Each crisis hand-off: who raised it and when, the route it went to (program settings per facility), and its outcome.
-- Column names agreed with the outcomes work (issue 14, follow-up), which counts them.
CREATE TABLE crisis_handoffs (
    id             uuid PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    facility       text NOT NULL,
    visit_number   text NOT NULL,
    raised_at      timestamptz NOT NULL,
    raised_by      text NOT NULL,            -- 'intake', a specialist id, or 'supervisor'
    route          text NOT NULL,            -- 'on-call-clinician', '988', 'mobile-crisis', ...
    contact        text,                     -- who the route reaches (a notify recipient id), never a patient's
    handed_off_at  timestamptz,
    outcome        text,
    notes_code     text
);
-- One open hand-off per case: a repeated raise (a retried tap, intake's redelivery) finds it.
CREATE UNIQUE INDEX crisis_handoffs_open ON crisis_handoffs (case_id) WHERE outcome IS NULL;
CREATE INDEX crisis_handoffs_facility ON crisis_handoffs (facility, raised_at);

-- Single-case re-matches (a supervisor's decision or the patient's request), with their reason.
CREATE TABLE rematches (
    id              uuid PRIMARY KEY,
    case_id         uuid NOT NULL REFERENCES cases (id),
    requested_at    timestamptz NOT NULL,
    requested_by    text NOT NULL,           -- 'supervisor' or 'patient'
    reason          text NOT NULL,
    recorded_by     text NOT NULL,           -- the token's subject
    from_specialist uuid REFERENCES specialists (id),
    to_specialist   uuid NOT NULL REFERENCES specialists (id),
    assignment_id   uuid NOT NULL REFERENCES assignments (id)
);
CREATE INDEX rematches_case ON rematches (case_id, requested_at);

-- Supervision sessions per peer (agreed table shape); the state's required hours are program settings.
CREATE TABLE supervision_sessions (
    id             uuid PRIMARY KEY,
    specialist_id  uuid NOT NULL REFERENCES specialists (id),
    supervisor     text NOT NULL,
    held_on        date NOT NULL,
    minutes        integer NOT NULL CHECK (minutes > 0),
    format         text NOT NULL CHECK (format IN ('individual', 'group')),
    topics         text[] NOT NULL DEFAULT '{}',
    recorded_at    timestamptz NOT NULL,
    UNIQUE (specialist_id, supervisor, held_on, format)
);

-- Renewal warnings sent (certification expiry, CE due), once per credential, date and threshold.
CREATE TABLE renewal_warnings (
    specialist_id  uuid NOT NULL REFERENCES specialists (id),
    credential     text NOT NULL,            -- 'certification' or 'continuing-education'
    kind           text NOT NULL,            -- CPRS, ...
    due_on         date NOT NULL,
    threshold_days integer NOT NULL,
    warned_at      timestamptz NOT NULL,
    PRIMARY KEY (specialist_id, credential, kind, due_on, threshold_days)
);

-- Confidential leave: since when (null = not on leave); the reason lives in specialist_leaves, for the supervisor only.
ALTER TABLE specialists ADD COLUMN on_leave_since timestamptz;
CREATE TABLE specialist_leaves (
    id             uuid PRIMARY KEY,
    specialist_id  uuid NOT NULL REFERENCES specialists (id),
    started_at     timestamptz NOT NULL,
    ended_at       timestamptz,
    reason         text NOT NULL,
    supervisor     text NOT NULL,            -- the peer's supervisor: the only one who reads the reason
    recorded_by    text NOT NULL
);
CREATE UNIQUE INDEX specialist_leaves_open ON specialist_leaves (specialist_id) WHERE ended_at IS NULL;
