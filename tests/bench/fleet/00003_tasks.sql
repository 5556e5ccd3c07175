-- +goose Up
CREATE TYPE task_state AS ENUM ('open', 'doing', 'done');
CREATE TABLE tasks (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    title text NOT NULL,
    state task_state NOT NULL DEFAULT 'open',
    due date,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tasks_project_state_idx ON tasks (project_id, state);
CREATE INDEX tasks_due_idx ON tasks (due) WHERE state <> 'done';
