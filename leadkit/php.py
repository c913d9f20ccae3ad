"""PHP blocks removed from a kit's ``index.php``, so that what is left can be served as a page.

:func:`strip_php` removes ``<?php ... ?>``, ``<?= ... ?>`` and ``<? ... ?>``
blocks as PHP reads them: a ``?>`` inside a string, a ``/* */`` comment, a
heredoc or a nowdoc does not end a block, an unclosed block runs to the end, and
``<?xml`` is kept. Each block removed is told as a :class:`PhpBlock` (its line,
its code on one line) for ``leadkit check``. Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["PhpBlock", "strip_php"]


@dataclass(frozen=True)
class PhpBlock:
    """A PHP block removed from a page: the 1-based line it started on, and its text on one line (cut short)."""

    line: int
    code: str


_PHP_OPEN = re.compile(r"<\?(?!xml)", re.IGNORECASE)
# What matters inside a block: its end, and what may hide a "?>" (strings, comments, heredocs).
_PHP_TOKEN = re.compile(r"""\?>|['"]|/\*|//|\#|<<<[ \t]*(["']?)([A-Za-z_]\w*)\1\r?\n""")
_PHP_STRING_REST = {"'": re.compile(r"(?:[^'\\]|\\.)*'", re.DOTALL), '"': re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)}
_PHP_LINE_COMMENT_END = re.compile(r"\n|\?>")
_PHP_CODE_SHOWN = 60


def strip_php(source: str) -> tuple[str, tuple[PhpBlock, ...]]:
    """``source`` without its PHP blocks (``<?php ... ?>``, ``<?= ... ?>``, ``<? ... ?>``), and what was removed.

    An unclosed block runs to the end, as in PHP; ``<?xml`` is kept. A ``?>``
    inside a string, a ``/* */`` comment or a heredoc does not end a block; one
    in a ``//`` or ``#`` comment does, as in PHP. The newline right after ``?>``
    goes with the block, as PHP eats it.
    """
    kept: list[str] = []
    blocks: list[PhpBlock] = []
    position, line, counted = 0, 1, 0
    while (opening := _PHP_OPEN.search(source, position)) is not None:
        start = opening.start()
        end, closed = _php_block_end(source, opening.end())
        line += source.count("\n", counted, start)
        counted = start
        kept.append(source[position:start])
        blocks.append(PhpBlock(line, _one_line(source[start:end])))
        position = end
        if closed:
            position += 1 if source.startswith("\n", end) else 2 if source.startswith("\r\n", end) else 0
    if not blocks:
        return source, ()
    kept.append(source[position:])
    return "".join(kept), tuple(blocks)


def _php_block_end(source: str, position: int) -> tuple[int, bool]:
    """Where the block whose code starts at ``position`` ends (after its ``?>``), and whether it was closed."""
    while (token := _PHP_TOKEN.search(source, position)) is not None:
        text = token.group()
        if text == "?>":
            return token.end(), True
        if text in _PHP_STRING_REST:
            rest = _PHP_STRING_REST[text].match(source, token.end())
            position = rest.end() if rest else len(source)
        elif text == "/*":
            close = source.find("*/", token.end())
            position = len(source) if close < 0 else close + 2
        elif text in ("//", "#"):
            comment_end = _PHP_LINE_COMMENT_END.search(source, token.end())
            position = comment_end.start() if comment_end else len(source)
        else:
            closing = re.compile(rf"^[ \t]*{re.escape(token.group(2))}(?!\w)", re.MULTILINE).search(source, token.end())
            position = closing.end() if closing else len(source)
    return len(source), False


def _one_line(code: str) -> str:
    code = " ".join(code.split())
    return code if len(code) <= _PHP_CODE_SHOWN else code[:_PHP_CODE_SHOWN - 3] + "..."
