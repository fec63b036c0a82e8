"""Shared web and API plumbing: the pieces every app uses and that know no app.

Error shapes and pagination of the REST API (`api`, `api_docs`), request guards
(`middleware`), page helpers (`web`), probes of the services the stack runs on (`health`).
Nothing here imports a project app; import-linter checks it (see `.importlinter`)."""
