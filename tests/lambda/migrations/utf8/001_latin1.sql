-- +goose Up
-- a migration that changes the session's client_encoding, and commits
SET client_encoding = 'LATIN1';
CREATE TABLE enc (x text);
INSERT INTO enc VALUES ('caf' || chr(233));

-- +goose Down
DROP TABLE enc;
