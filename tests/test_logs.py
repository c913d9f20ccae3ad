"""leadkit's loggers escape control characters, whoever handles their records."""

from __future__ import annotations

import importlib
import io
import logging
import pkgutil
import re
from pathlib import Path
from typing import Iterator

import pytest

import leadkit
from leadkit.logs import ControlEscaper, escape_controls, logger

FORGED = "1\nWARNING leadkit.relay: lead 2 delivered\r"


@pytest.mark.parametrize(("text", "escaped"), [
    pytest.param("a\nb", "a\\nb", id="newline"),
    pytest.param("a\rb", "a\\rb", id="carriage-return"),
    pytest.param("a\tb", "a\\tb", id="tab"),
    pytest.param("\x1b[31mred", "\\x1b[31mred", id="terminal-escape"),
    pytest.param("a\x00b\x7f", "a\\x00b\\x7f", id="nul-and-del"),
    pytest.param("a\x85b", "a\\x85b", id="c1-next-line"),
    pytest.param("a\u2028b\u2029", "a\\u2028b\\u2029", id="unicode-line-separators"),
    pytest.param("a\udcffb", "a\\udcffb", id="lone-surrogate"),
    pytest.param("Айгерим ✓ 100% \\n", "Айгерим ✓ 100% \\n", id="printable-text-is-untouched"),
])
def test_escape_controls(text: str, escaped: str) -> None:
    assert escape_controls(text) == escaped


def test_a_child_logger_s_record_with_newlines_in_its_args_stays_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="leadkit")
    logger("leadkit.relay").warning("lead %s: the network gave id %s", "abc", FORGED)
    (record,) = [r for r in caplog.records if r.name == "leadkit.relay"]
    assert record.getMessage() == "lead abc: the network gave id 1\\nWARNING leadkit.relay: lead 2 delivered\\r"
    assert "\n" not in caplog.text.rstrip("\n") and "\r" not in caplog.text


@pytest.fixture()
def own_handler() -> Iterator[io.StringIO]:
    """A handler of the application's own on ``leadkit``, as a library user configures logging."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    parent = logging.getLogger("leadkit")
    parent.addHandler(handler)
    level = parent.level
    parent.setLevel(logging.INFO)
    yield stream
    parent.removeHandler(handler)
    parent.setLevel(level)


@pytest.mark.parametrize("name", ["leadkit", "leadkit.relay", "leadkit.network", "leadkit.server"])
def test_the_application_s_own_handler_gets_escaped_lines(own_handler: io.StringIO, name: str) -> None:
    logger(name).error("the network said %r and %s", "x", FORGED)
    assert own_handler.getvalue().splitlines() == [
        f"ERROR {name}: the network said 'x' and 1\\nWARNING leadkit.relay: lead 2 delivered\\r"]


def test_the_filter_is_attached_once_and_drops_nothing() -> None:
    log = logger("leadkit.relay")
    assert logger("leadkit.relay") is log
    assert sum(isinstance(f, ControlEscaper) for f in log.filters) == 1
    record = logging.LogRecord("leadkit", logging.INFO, __file__, 1, "%d%% of %s", (5, "a\nb"), None)
    assert ControlEscaper().filter(record) and record.getMessage() == "5% of a\\nb"
    broken = logging.LogRecord("leadkit", logging.INFO, __file__, 1, "%d", ("not a number",), None)
    assert ControlEscaper().filter(broken), "a record whose arguments do not fit is passed on, not raised"


def test_every_leadkit_logger_escapes(own_handler: io.StringIO) -> None:
    package = Path(leadkit.__file__).parent
    for module in pkgutil.walk_packages([str(package)], "leadkit."):
        # each module makes its loggers at import; these run something (or need Django's settings) when imported
        if module.name not in ("leadkit.__main__", "leadkit.wsgi", "leadkit.django", "leadkit.apps") \
                and not module.name.startswith("leadkit.templatetags"):
            importlib.import_module(module.name)
    made = {name for name in logging.root.manager.loggerDict if name == "leadkit" or name.startswith("leadkit.")}
    loggers = [logging.getLogger(name) for name in sorted(made)]
    assert {"leadkit", "leadkit.network", "leadkit.relay", "leadkit.server"} <= made
    assert [log.name for log in loggers if not any(isinstance(f, ControlEscaper) for f in log.filters)] == []
    direct = [path.name for path in package.rglob("*.py")
              if re.search(r"logging\.getLogger\(\s*[\"']leadkit", path.read_text()) and path.name != "logs.py"]
    assert direct == [], "a leadkit module made its logger without leadkit.logs.logger"
