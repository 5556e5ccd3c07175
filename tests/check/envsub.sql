-- +goose Up
-- +goose ENVSUB ON
CREATE TABLE ${TABLE_PREFIX}events (id int);
INSERT INTO settings VALUES ('region', '${REGION:-eu-west-2}');
-- +goose ENVSUB OFF

-- +goose Down
DROP TABLE events;
