-- A dead letter keeps its Kafka key, so a replay lands in the visit's partition, behind its earlier events and
-- never ahead of its later ones. Rows from before this migration have none (replayed without a key, as before).
ALTER TABLE dead_letters ADD COLUMN kafka_key bytea;
