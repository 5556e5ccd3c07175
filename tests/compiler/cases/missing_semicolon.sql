-- +goose Up
CREATE TABLE a (id int);
ALTER TABLE a ADD COLUMN b int
-- +goose Down
DROP TABLE a;
