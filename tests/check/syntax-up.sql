-- A syntax error in an Up statement, after multi-byte text on the same line:
-- PostgreSQL counts characters, the diagnostic counts bytes.
-- +goose Up
CREATE TABLE greeting (id int PRIMARY KEY, text text NOT NULL);
INSERT INTO greeting VALUES (1, 'grüß dich'), , (2, 'hello');

-- +goose Down
DROP TABLE greeting;
