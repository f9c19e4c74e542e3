-- What supervisors do on the console's live board (issue 15): re-match a case with a reason, give a case to a peer by
-- hand (the hard constraints it overrode and why), acknowledge an escalation. The reason of a re-match is a code; an
-- override's reason is the supervisor's short text, shown on the board and never logged.
CREATE TABLE case_actions (
    id               uuid PRIMARY KEY,
    case_id          uuid NOT NULL REFERENCES cases (id),
    kind             text NOT NULL,          -- rematch, assign, acknowledge
    from_assignment  uuid,                   -- the assignment a re-match moved the case away from
    assignment_id    uuid,                   -- the assignment it made (null: nobody eligible, escalated)
    specialist_id    uuid,
    reason           text,
    overridden       text[] NOT NULL DEFAULT '{}',
    escalation_kind  text,                   -- what an acknowledgement acknowledged (escalations.kind)
    actor            text NOT NULL,
    at               timestamptz NOT NULL
);
CREATE INDEX case_actions_case ON case_actions (case_id, at);
-- Natural keys: a re-match away from one assignment happens once; an escalation is acknowledged once.
CREATE UNIQUE INDEX case_actions_rematch ON case_actions (case_id, from_assignment) WHERE kind = 'rematch';
CREATE UNIQUE INDEX case_actions_ack ON case_actions (case_id, escalation_kind) WHERE kind = 'acknowledge';
