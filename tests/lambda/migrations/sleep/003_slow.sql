-- +goose Up
CREATE TABLE slow_things (id integer PRIMARY KEY);
SELECT pg_sleep(10);

-- +goose Down
DROP TABLE slow_things;
