-- Procedures: INOUT parameters, CALL, transaction control inside a procedure body
-- (valid PL/pgSQL; only a CALL in a transaction block would refuse it at run time).
-- +goose Up
CREATE TABLE pr_log (n integer);

-- +goose StatementBegin
CREATE PROCEDURE pr_fill(n integer, INOUT total integer DEFAULT 0) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    INSERT INTO pr_log VALUES (i);
    total := total + i;
  END LOOP;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE PROCEDURE pr_batches(n integer) LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1..n LOOP
    INSERT INTO pr_log VALUES (-i);
    IF i % 100 = 0 THEN
      COMMIT;
    END IF;
  END LOOP;
  ROLLBACK;
END $$;
-- +goose StatementEnd

CALL pr_fill(3);

-- +goose Down
DROP PROCEDURE pr_batches(integer);
DROP PROCEDURE pr_fill(integer, integer);
DROP TABLE pr_log;
