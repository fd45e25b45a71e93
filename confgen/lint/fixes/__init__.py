"""Fixes for lint findings: minimal text edits, never a re-serialised file (see apply.py)."""
