-- NO TRANSACTION, but one goose statement holds two commands: PostgreSQL runs
-- them as one implicit transaction, so both fail.
-- +goose NO TRANSACTION
-- +goose Up
-- +goose StatementBegin
CREATE INDEX CONCURRENTLY t_a ON t (a);
CREATE INDEX CONCURRENTLY t_b ON t (b);
-- +goose StatementEnd

-- +goose Down
DROP INDEX CONCURRENTLY t_a; DROP INDEX CONCURRENTLY t_b;
