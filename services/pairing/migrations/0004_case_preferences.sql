-- The patient's preferences (recovery pathways, a peer of the same gender, language), recorded by the peer at first
-- contact (PUT /cases/{id}/preferences) and read by matching whenever the case is offered again or re-matched.
-- NULL: none recorded.
ALTER TABLE cases ADD COLUMN preferences jsonb;
ALTER TABLE cases ADD COLUMN preferences_recorded_at timestamptz;

-- A specialist's free-text cultural_background gives way to self-identified race and ethnicity in the code set intake
-- sends for patients (CDC Race & Ethnicity). No visit ever carried a cultural background, so no match scored on the
-- free text; it cannot be turned into codes without guessing, so it leaves the record and supervisors record the codes.
-- What a supervisor wrote is not thrown away: it is kept, unused, in retired_fields for them to re-enter as codes.
-- The stored record then equals what SpecialistIn stores, so a repeated POST of the same specialist stays a repeat.
ALTER TABLE specialists ADD COLUMN retired_fields jsonb NOT NULL DEFAULT '{}';
UPDATE specialists SET retired_fields = jsonb_build_object('cultural_background', data->'cultural_background')
 WHERE data ? 'cultural_background';
UPDATE specialists SET data = (data - 'cultural_background') || '{"race": [], "ethnicity": []}'::jsonb
 WHERE NOT data ? 'race';
