"""Process wiring: CLI, supervisor, runners, HTTP server."""
