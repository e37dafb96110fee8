"""Turning the template into a project: ``tabpipe init`` (``init``) and its pure planning
(``plan``: the task, the column kinds, the inferred contract and params)."""
