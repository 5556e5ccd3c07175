-- +goose Up
-- +goose StatementBegin
DO $body$
BEGIN
    FOR i IN 1..3 LOOP
        RAISE NOTICE 'i = %', i;
    END LOOP
END
$body$;
-- +goose StatementEnd

-- +goose Down
SELECT 1;
