-- Follow-up as windows (issue 14): each touchpoint opens and closes; a contact counts for the window it falls in;
-- a window that closes without a reached contact is recorded as missed by the deadline loop.
ALTER TABLE touchpoints ADD COLUMN opens_at timestamptz;
ALTER TABLE touchpoints ADD COLUMN closes_at timestamptz;
ALTER TABLE touchpoints ADD COLUMN offset_hours double precision;
ALTER TABLE touchpoints ADD COLUMN missed_at timestamptz;
-- Touchpoints planned before windows existed get the default widths of their place in the plan (72 h: one day either
-- side; 7 days: two; later: seven), so they are reminded, counted and missed like new ones.
UPDATE touchpoints t SET offset_hours = round(extract(epoch FROM t.due_at - c.opened_at) / 3600)
  FROM cases c WHERE c.id = t.case_id AND t.kind = 'follow-up';
UPDATE touchpoints SET opens_at = due_at - w, closes_at = due_at + w
  FROM (SELECT id AS tid, CASE WHEN offset_hours <= 72 THEN interval '24 hours'
                               WHEN offset_hours <= 168 THEN interval '48 hours'
                               ELSE interval '168 hours' END AS w FROM touchpoints) widths
 WHERE id = widths.tid;
CREATE INDEX touchpoints_windows ON touchpoints (case_id, opens_at);

-- What a reached call learned (codes), the treatment entered, and a BARC-10 recovery capital score (10 items, 1-6).
ALTER TABLE contacts ADD COLUMN learned text[] NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN treatment_type text;
ALTER TABLE contacts ADD COLUMN barc10 smallint[];
ALTER TABLE contacts ADD COLUMN barc10_total smallint
    CHECK (barc10_total IS NULL OR barc10_total BETWEEN 10 AND 60);

-- A window's deadlines (open, closing reminder, close) sit in the same table as the offers' timeouts, taken by the
-- same loop; one of each kind per touchpoint, so planning twice never reminds twice.
ALTER TABLE deadlines ADD COLUMN touchpoint_id bigint REFERENCES touchpoints (id);
CREATE UNIQUE INDEX deadlines_touchpoint_kind ON deadlines (touchpoint_id, kind) WHERE touchpoint_id IS NOT NULL;
-- Windows of touchpoints still open get their deadlines (those already past come due at once: a close marks missed).
INSERT INTO deadlines (case_id, kind, due_at, touchpoint_id)
SELECT t.case_id, k.kind, CASE k.kind WHEN 'window-open' THEN t.opens_at
                                      WHEN 'window-closing' THEN greatest(t.opens_at, t.closes_at - interval '24 hours')
                                      ELSE t.closes_at END, t.id
  FROM touchpoints t CROSS JOIN (VALUES ('window-open'), ('window-closing'), ('window-close')) AS k (kind)
 WHERE t.done_at IS NULL AND t.outcome IS NULL AND t.opens_at IS NOT NULL
   AND (k.kind = 'window-close' OR t.closes_at > now());
