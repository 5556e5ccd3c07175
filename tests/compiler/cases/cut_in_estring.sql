-- +goose Up
SELECT E'it\'s; here';
SELECT E'a\\';
SELECT E'dangling\';
SELECT 1;
