"""Finding and rendering leadkit's Jinja templates.

The built-in templates live in the top-level ``templates/`` folder of the
source tree; the wheel carries them inside the package as
``leadkit/templates``. A user's ``site.templates`` folder comes first, so any
template can be overridden by name. Autoescaping is always on, and Jinja's i18n extension is
loaded: ``_("...")`` and ``{% trans %}`` speak the customer's language when a page is rendered with
it (:func:`leadkit.pages.gettext_context`), English otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import jinja2

__all__ = ["BUILTIN_TEMPLATES", "make_environment", "builtin_templates", "template_source"]


def builtin_templates() -> Path:
    """The folder of the built-in templates: inside the installed package, else the checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "templates", here.parent / "templates"):
        if (candidate / "form.html").is_file():
            return candidate
    raise RuntimeError(f"leadkit's templates are missing: neither {here / 'templates'} nor "
                       f"{here.parent / 'templates'} holds form.html; reinstall leadkit")


BUILTIN_TEMPLATES = builtin_templates()


def make_environment(*folders: Path | None, globals: dict[str, Any] | None = None) -> jinja2.Environment:
    """An autoescaping environment looking in ``folders`` (first wins), then the built-in templates."""
    search: Sequence[Path] = [f for f in folders if f is not None] + [BUILTIN_TEMPLATES]
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(f) for f in search]),
        autoescape=True,
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
        extensions=["jinja2.ext.i18n"],
    )
    # English until a page is rendered with the customer's language (leadkit.pages.gettext_context).
    environment.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    environment.globals.update(globals or {})
    return environment


def template_source(environment: jinja2.Environment, name: str) -> str:
    """A template's text as it is, unrendered (``embed.js`` is JavaScript, not a Jinja page)."""
    if environment.loader is None:
        raise RuntimeError("the template environment has no loader")
    return environment.loader.get_source(environment, name)[0]
