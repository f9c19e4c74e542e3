-- The relay's wake-up names the lowest seq the committing statement wrote: the relay reads unpublished rows from
-- there rather than from the start of the partial index, whose first entries are published rows until VACUUM clears
-- them (each published row leaves a dead entry; a busy outbox had tens of thousands between vacuums).
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{schema}_outbox', lowest::text) FROM (SELECT min(seq) AS lowest FROM added) AS s
        WHERE lowest IS NOT NULL;
    RETURN NULL;
END $$;
DROP TRIGGER outbox_notify ON outbox;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();
