"""gunicorn configs and command lines, read statically: never imported, never run."""
