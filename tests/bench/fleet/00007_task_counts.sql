-- +goose Up
CREATE VIEW project_task_counts AS
SELECT p.id AS project_id, p.name,
       count(t.id) FILTER (WHERE t.state = 'open') AS open,
       count(t.id) FILTER (WHERE t.state = 'doing') AS doing,
       count(t.id) FILTER (WHERE t.state = 'done') AS done
FROM projects p LEFT JOIN tasks t ON t.project_id = p.id
GROUP BY p.id, p.name;
