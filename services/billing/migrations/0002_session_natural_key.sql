-- A peer session is billed once: pairing once recorded two encounters (two encounter ids) for one session (same
-- assignment, same start), and one claim per encounter id made two claims of it. The session is the natural key.
ALTER TABLE claims ADD COLUMN assignment_id uuid, ADD COLUMN session_started_at timestamptz;

-- Events without an assignment id (or with one that is not a uuid) keep a NULL key: only the encounter id guards them.
UPDATE claims SET
    assignment_id = CASE WHEN encounter->>'assignment_id'
                              ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                         THEN (encounter->>'assignment_id')::uuid END,
    session_started_at = (encounter->>'started_at')::timestamptz;

-- A session already claimed twice: the earliest claim keeps the key; the later ones lose it (else the index below
-- cannot be built) and, unless they have gone out to a payer, are held so that a biller sees them (a claim that went
-- out needs a void, which is a biller's decision).
WITH ranked AS (
    SELECT id, first_value(claim_number) OVER session AS kept,
           row_number() OVER session AS n
    FROM claims
    WHERE frequency = '1' AND assignment_id IS NOT NULL AND session_started_at IS NOT NULL
    WINDOW session AS (PARTITION BY assignment_id, session_started_at ORDER BY created_at, claim_number)
)
UPDATE claims c SET
    assignment_id = NULL,
    session_started_at = NULL,
    status = CASE WHEN c.status IN ('exported', 'replaced', 'voided') THEN c.status ELSE 'held' END,
    hold_reasons = CASE WHEN c.status IN ('exported', 'replaced', 'voided') THEN c.hold_reasons
                        ELSE c.hold_reasons || jsonb_build_array(jsonb_build_object(
                            'code', 'duplicate-session',
                            'detail', 'the same peer session is billed by claim ' || r.kept)) END,
    updated_at = now()
FROM ranked r
WHERE c.id = r.id AND r.n > 1;

CREATE UNIQUE INDEX claims_one_per_session ON claims (assignment_id, session_started_at) WHERE frequency = '1';
