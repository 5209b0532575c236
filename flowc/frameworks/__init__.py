"""Helpers for distributed training frameworks in ``@parallel`` steps, at Metaflow's module path
``metaflow.plugins.frameworks``."""
