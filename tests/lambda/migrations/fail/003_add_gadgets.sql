-- +goose Up
CREATE TABLE gadgets (id integer PRIMARY KEY);

INSERT INTO gadgets (id)
SELECT id FROM no_such_table;

-- +goose Down
DROP TABLE gadgets;
