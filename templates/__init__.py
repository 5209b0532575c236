"""Jinja2 templates for generated Python files (installed as ``flowc.templates``)."""
