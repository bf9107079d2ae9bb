"""Kompas platform wiring: settings, URLs, the public site, the CLI and embedded defaults.

Lives in the top-level ``platform/`` folder but is imported as ``kompas`` so that Python's
standard-library ``platform`` module is never shadowed (docs/decisions/0001-platform-folder.md).
"""
