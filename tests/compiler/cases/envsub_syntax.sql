-- +goose Up
-- +goose ENVSUB ON
CREATE TABLE ${PREFIX:-app}_t (id int);
SELECT format('%s', $1);
