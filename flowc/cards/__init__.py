"""Cards: HTML reports of what a step did. In a step with ``@card``::

    from flowc.cards import Markdown, Table
    current.card.append(Markdown("# Metrics"))
    current.card.append(Table([[1, 2]], headers=["a", "b"]))

The components live in :mod:`flowc.cards.components`; rendering, storage, the graph picture
and the card server in the sibling modules.
"""

from flowc.cards.components import (
    Artifact,
    Component,
    Error,
    Image,
    Markdown,
    ProgressBar,
    PythonCode,
    Table,
    ValueBox,
    VegaChart,
)

from flowc.cards.client import Card, CardContainer, CardNotPresentException, get_cards
from flowc.cards.custom import MetaflowCard, MetaflowCardComponent

__all__ = [
    "Card",
    "CardContainer",
    "CardNotPresentException",
    "MetaflowCard",
    "MetaflowCardComponent",
    "get_cards",
    "Artifact",
    "Component",
    "Error",
    "Image",
    "Markdown",
    "ProgressBar",
    "PythonCode",
    "Table",
    "ValueBox",
    "VegaChart",
]
