-- Transaction control in a transactional migration: each would end, reopen or
-- reset the migration's own transaction (issue 13.2).  Savepoints stay inside it.
-- +goose Up
SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;
CREATE TABLE t (a int);
SAVEPOINT s1;
INSERT INTO t VALUES (1);
ROLLBACK TO SAVEPOINT s1;
RELEASE SAVEPOINT s1;
COMMIT;
end;
INSERT INTO t VALUES (2); ROLLBACK;
abort;
BEGIN;
START TRANSACTION ISOLATION LEVEL READ COMMITTED;
PREPARE TRANSACTION 'p1';
COMMIT PREPARED 'p1';
ROLLBACK PREPARED 'p1';
RESET ALL;
RESET statement_timeout;
COMMIT AND CHAIN;

-- +goose Down
DROP TABLE t;
ROLLBACK;
