-- The accounting of disclosures finds a patient's referrals by the feed's patient identifier.
CREATE INDEX referrals_patient ON referrals ((visit->'patient_ref'->>'value'), (visit->'patient_ref'->>'system'));
-- A patient's disclosures within three years: the referral's disclosure records by time.
CREATE INDEX audit_log_disclosures ON audit_log (referral_id, recorded_at) WHERE action IN ('disclosure', 'revocation');
-- The consent-expiry sweep looks only at referrals whose consent is still in force.
CREATE INDEX referrals_consent_active ON referrals (id) WHERE consent->>'status' = 'active';
