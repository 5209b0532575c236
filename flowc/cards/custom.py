"""Card types of your own, with Metaflow's API: subclass ``MetaflowCard``, give it a ``type``
and a ``render(task) -> str``; ``@card(type=...)`` then uses it. Whatever ``render`` returns is
the card's page, as is. ``ALLOW_USER_COMPONENTS = True`` lets ``current.card.append`` feed it:
it gets the rendered ``MetaflowCardComponent``s it was given as ``components``.

A card type is found among the ``MetaflowCard`` subclasses defined by the flow and what it
imports, then among flowc's built-in ones (``taskspec_card`` and the test card types Metaflow
ships for its own suite, in :mod:`flowc.cards.testing`).
"""

from __future__ import annotations

from typing import Any

from flowc.cards.components import Component


class MetaflowCardComponent(Component):
    """A piece of a custom card: ``render()`` returns a string (HTML or text)."""

    REALTIME_UPDATABLE = False

    def render(self) -> Any:
        raise NotImplementedError

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Change what the component shows (for cards refreshed while the step runs)."""


class MetaflowCard:
    """Base of a card type. ``__init__`` takes ``options`` (``@card(options=...)``) and, when
    ``ALLOW_USER_COMPONENTS`` is set, ``components``; ``render(task)`` gets the client
    ``Task`` (artifacts on ``task["name"].data``) and returns the page."""

    type: str | None = None
    ALLOW_USER_COMPONENTS = False
    RUNTIME_UPDATABLE = False
    RELOAD_POLICY_NEVER = "never"
    RELOAD_POLICY_ALWAYS = "always"
    RELOAD_POLICY_ONCHANGE = "onchange"
    RELOAD_POLICY = RELOAD_POLICY_NEVER
    runtime_data: Any = None

    def __init__(self, options: dict | None = None, components: list | None = None, **kwargs: Any):
        self.options = options or {}
        self._components = components or []

    def render(self, task: Any) -> str:
        raise NotImplementedError

    def render_runtime(self, task: Any, data: Any) -> str:
        raise NotImplementedError

    def refresh(self, task: Any, data: Any) -> Any:
        return None


def find_card_type(name: str) -> type[MetaflowCard] | None:
    """The ``MetaflowCard`` subclass whose ``type`` is ``name`` (the flow's own first)."""
    import flowc.cards.testing  # noqa: F401 - registers the built-in types

    _load_extensions()
    found = None
    stack = list(MetaflowCard.__subclasses__())
    while stack:
        cls = stack.pop(0)
        if cls.__module__ in _failed:
            continue  # defined by a module that then failed to import, not yet collected
        if getattr(cls, "type", None) == name:
            if not cls.__module__.startswith("flowc."):
                return cls
            found = found or cls
        stack.extend(cls.__subclasses__())
    return found


_extensions_loaded = False
_failed: set[str] = set()  # card packages whose import raised


def _load_extensions() -> None:
    """Import the card packages of installed ``metaflow_extensions`` (Metaflow's way to ship
    card types: ``metaflow_extensions/<org>/plugins/cards/<name>/__init__.py`` listing
    ``CARDS``); a package that fails to import is skipped, as Metaflow skips it."""
    global _extensions_loaded
    if _extensions_loaded:
        return
    _extensions_loaded = True
    import glob
    import importlib.util
    import os
    import sys

    from flowc.extensions import PACKAGE, organisations

    for org, folder in organisations():
        for init in sorted(glob.glob(os.path.join(folder, "plugins", "cards", "*", "__init__.py"))):
            name = f"{PACKAGE}.{org}.plugins.cards.{os.path.basename(os.path.dirname(init))}"
            if name in sys.modules:
                continue
            spec = importlib.util.spec_from_file_location(name, init)
            if spec is None or spec.loader is None:
                continue
            module = importlib.util.module_from_spec(spec)
            try:
                spec.loader.exec_module(module)
            except Exception as e:  # noqa: BLE001 - a broken package hides only its cards
                why = f"{type(e).__name__}: {e}"
                print(f"flowc: card package {name} not loaded: {why}", file=sys.stderr)
                _failed.add(name)
                continue
            sys.modules[name] = module


def editable(card_type: str) -> bool:
    """Whether ``current.card.append`` may feed a card of this type."""
    if card_type in ("default", "blank"):
        return True
    cls = find_card_type(card_type)
    return bool(cls is not None and cls.ALLOW_USER_COMPONENTS)


def render_custom(cls: type[MetaflowCard], options: dict, raw: list, task: Any) -> str:
    """The page of a custom card: its ``render`` output, as a string."""
    kwargs: dict[str, Any] = {"options": dict(options)}
    if cls.ALLOW_USER_COMPONENTS:
        kwargs["components"] = [
            str(c.render()) for c in raw if isinstance(c, MetaflowCardComponent)
        ]
    try:
        card = cls(**kwargs)
    except TypeError:  # a card type whose __init__ takes less
        card = cls(options=dict(options)) if "options" in kwargs else cls()
    return str(card.render(task))
