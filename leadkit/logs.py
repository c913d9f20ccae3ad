"""leadkit's loggers, whose lines nobody outside can forge.

Part of what leadkit logs comes from outside: a network's answer (an id, a
message), what a visitor sent. A newline in it would start a log line of its
own, written by whoever chose the text. Every logger leadkit uses is made by
:func:`logger`, which attaches :class:`ControlEscaper`: the final message of
each record, its arguments merged, has its control characters escaped
(``\\n`` becomes the two characters ``\\`` ``n``; also ``\\r``, ``\\t``,
``\\x1b``, the other C0 and C1 controls, the Unicode line separators and lone
surrogates). The filter sits on each logger itself, so it holds whatever
handlers the application configures: a filter on ``leadkit`` alone would not
see the records of ``leadkit.relay``, since a logger's filters apply only to
records logged through it. Tracebacks (``exc_info``) are left as they are.
"""

from __future__ import annotations

import logging
import re

__all__ = ["ControlEscaper", "escape_controls", "logger"]

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_controls(text: str) -> str:
    """``text`` on one line: each control character, line separator or lone surrogate escaped."""
    return _UNSAFE.sub(lambda found: _escaped(found.group()), text)


def _escaped(char: str) -> str:
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class ControlEscaper(logging.Filter):
    """Escapes control characters in the final message of every record it sees; drops none."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the format: logging's handlers report that themselves
            return True
        if _UNSAFE.search(message):
            record.msg, record.args = escape_controls(message), None
        return True


_ESCAPER = ControlEscaper()


def logger(name: str) -> logging.Logger:
    """The logger ``name`` (``leadkit`` or ``leadkit.something``) with :class:`ControlEscaper` attached once."""
    log = logging.getLogger(name)
    if not any(isinstance(f, ControlEscaper) for f in log.filters):
        log.addFilter(_ESCAPER)
    return log


logger("leadkit")
