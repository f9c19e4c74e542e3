-- Issue 19: who signed the consent and when (42 CFR 2.31(a)(8)), and the recipients the patient named (2.31(a)(4)).
ALTER TABLE consents ADD COLUMN signer text CHECK (signer IN ('patient', 'representative'));
ALTER TABLE consents ADD COLUMN signed_at timestamptz;
ALTER TABLE consents ADD COLUMN recipients jsonb;
