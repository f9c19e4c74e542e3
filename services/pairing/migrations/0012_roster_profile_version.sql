-- Matching keeps each specialist's profile (the data column) between roster reads and reads only what changes with
-- every visit (load, last page, shifts): profile_version names the profile's content, so a reader that holds an older
-- version reads it again. A trigger sets it, whoever writes: drawn from a sequence, a version never names two
-- contents, even for a row deleted and written again under the same id.
CREATE SEQUENCE specialist_profile_versions;
ALTER TABLE specialists ADD COLUMN profile_version bigint NOT NULL DEFAULT nextval('specialist_profile_versions');

CREATE FUNCTION specialists_new_profile_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.profile_version := nextval('specialist_profile_versions');
    RETURN NEW;
END $$;

-- Paging a peer (last_paged_at) leaves the version as it is: that is every offer, and it is read each time anyway.
CREATE TRIGGER specialists_profile_version BEFORE UPDATE ON specialists FOR EACH ROW
    WHEN (OLD.data IS DISTINCT FROM NEW.data OR OLD.profile_version IS DISTINCT FROM NEW.profile_version)
    EXECUTE FUNCTION specialists_new_profile_version();
