-- The lexer's error comes first: PostgreSQL's parser does not look at the cut
-- statement or at the rest of it.
-- +goose Up
INSERT INTO notes VALUES ('first line;
second line');
SELECT 1;

-- +goose Down
SELECT 1;
