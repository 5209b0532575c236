"""Card types for testing cards, under the names Metaflow gives its own (``taskspec_card``,
``test_pathspec_card``, ``test_editable_card``, ...), so suites written for Metaflow's cards run
on flowc. Each shows something a test can check exactly: the task's pathspec, or the components
appended to it joined by a separator."""

from __future__ import annotations

import secrets
import time
from typing import Any

from flowc.cards.custom import MetaflowCard, MetaflowCardComponent

SEPARATOR = "$&#!!@*"


class TestStringComponent(MetaflowCardComponent):
    """A component that renders as its text."""

    REALTIME_UPDATABLE = True

    def __init__(self, text: Any):
        self._text = text

    def render(self) -> str:
        return str(self._text)

    def update(self, text: Any) -> None:
        self._text = text


class TaskspecCard(MetaflowCard):
    """The task's pathspec."""

    type = "taskspec_card"

    def render(self, task: Any) -> str:
        return str(task.pathspec)


class TestPathSpecCard(MetaflowCard):
    """The task's pathspec and a random suffix (two such cards on a step differ)."""

    type = "test_pathspec_card"

    def render(self, task: Any) -> str:
        return f"{task.pathspec} {secrets.token_hex(3).upper()}"


class TestEditableCard(MetaflowCard):
    """The appended components, joined by ``SEPARATOR``."""

    type = "test_editable_card"
    separator = SEPARATOR
    ALLOW_USER_COMPONENTS = True

    def render(self, task: Any) -> str:
        return self.separator.join(str(c) for c in self._components)


class TestEditableCard2(TestEditableCard):
    type = "test_editable_card_2"


class TestNonEditableCard(MetaflowCard):
    type = "test_non_editable_card"
    separator = SEPARATOR

    def render(self, task: Any) -> str:
        return self.separator.join(str(c) for c in self._components)


class TestMockCard(MetaflowCard):
    """The artifact named by ``options["key"]``."""

    type = "test_mock_card"

    def render(self, task: Any) -> str:
        return str(task[self.options.get("key", "dummy_key")].data)


class TestErrorCard(MetaflowCard):
    type = "test_error_card"

    def render(self, task: Any) -> str:
        raise Exception("Unknown Things Happened")


class TestTimeoutCard(MetaflowCard):
    """Sleeps ``options["timeout"]`` seconds before showing the pathspec."""

    type = "test_timeout_card"

    def render(self, task: Any) -> str:
        time.sleep(float(self.options.get("timeout", 10)))
        return str(task.pathspec)
