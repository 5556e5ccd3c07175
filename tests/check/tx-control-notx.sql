-- In a NO TRANSACTION migration each statement runs on its own: transaction
-- control there is the migration's own business, and RESET ALL is allowed.
-- +goose NO TRANSACTION
-- +goose Up
BEGIN;
CREATE TABLE t (a int);
SAVEPOINT s1;
COMMIT;
RESET ALL;

-- +goose Down
DROP TABLE t;
