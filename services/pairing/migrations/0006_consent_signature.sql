-- The patient's signature drawn on the peer's phone (42 CFR 2.31(a)(8)), kept with the consent it signs.
ALTER TABLE consents ADD COLUMN signature text;
