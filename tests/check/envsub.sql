-- ENVSUB runs at deploy time: the check parses the text with every variable
-- unset (so ${VAR:-default} gives its default), and stays quiet when even that
-- is not SQL.  The transaction check still sees through it.
-- +goose Up
-- +goose ENVSUB ON
CREATE TABLE ${TABLE_PREFIX:-app}_events (id int);
INSERT INTO settings VALUES ('region', '${REGION:-eu-west-2}');
CREATE TABLE $SCHEMA.t (a int);
CREATE INDEX CONCURRENTLY ${TABLE_PREFIX:-app}_events_id ON ${TABLE_PREFIX:-app}_events (id);
-- +goose ENVSUB OFF

-- +goose Down
DROP TABLE app_events;
