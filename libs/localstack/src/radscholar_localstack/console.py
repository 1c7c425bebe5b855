"""The one merged log on stdout: each line prefixed with its process name, padded and coloured."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from rich.console import Console, RenderableType
from rich.text import Text

#: The stack's own messages appear under this name.
STACK_NAME = "localstack"

PALETTE = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta", "bright_green")
LEVEL_STYLES = {logging.WARNING: "yellow", logging.ERROR: "bold red", logging.CRITICAL: "bold red"}

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class StackConsole:
    """Prefixed, coloured output for the merged log; colour only when stdout is a terminal."""

    def __init__(self, names: Iterable[str], console: Console | None = None) -> None:
        self.console = console or Console(highlight=False)
        all_names = [STACK_NAME, *names]
        self._width = max(len(name) for name in all_names)
        self._styles = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(all_names)}
        self._styles[STACK_NAME] = "bold white"

    def prefix(self, name: str) -> Text:
        return Text(f"{name:<{self._width}} | ", style=self._styles.get(name, "white"))

    def line(self, name: str, text: str, style: str | None = None) -> None:
        """One log line of ``name``; ANSI colours a child wrote are kept on a terminal, dropped elsewhere."""
        body = Text(text, style=style) if style else Text.from_ansi(text)
        self.console.print(self.prefix(name) + body, soft_wrap=True, markup=False, highlight=False)

    def show(self, renderable: RenderableType, soft_wrap: bool = False) -> None:
        """User-facing output (the ready banner, tables) outside the prefixed log; ``soft_wrap`` keeps
        a long line on one line (a path must stay whole to be copied)."""
        self.console.print(renderable, soft_wrap=soft_wrap)


class ConsoleLogHandler(logging.Handler):
    """Routes the stack's own ``logging`` records into the merged log under ``localstack``."""

    def __init__(self, stack_console: StackConsole) -> None:
        super().__init__()
        self._stack_console = stack_console

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = self.format(record)
            style = LEVEL_STYLES.get(record.levelno)
            for part in message.splitlines() or [""]:
                self._stack_console.line(STACK_NAME, part, style=style)
        except Exception:  # a broken terminal must not take the supervisor down
            self.handleError(record)
