-- goose rule: parser.go:127-196 also take an annotation out of a dollar-quoted
-- function body; there a '--' line is a comment of the function's language, so
-- nothing that runs is lost, and goose's own envsub test02 relies on it: passes.
-- +goose Up
-- +goose StatementBegin
CREATE FUNCTION region() RETURNS text LANGUAGE plpgsql AS $$
-- +goose ENVSUB ON
BEGIN
    RETURN '${GOOSE_ENV_REGION:-eu}';
END;
-- +goose ENVSUB OFF
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION region();
