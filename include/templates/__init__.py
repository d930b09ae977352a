"""The HTML templates of the run report and the Campaigns page, and the one Jinja2 environment that
renders them.

Autoescape is on for every template: a value reaches the page as text unless a template marks it
safe, which none does, so a campaign name, a reason or a contact's field can never become markup.
Jinja2 is imported when the first page is rendered, never when a DAG file or the plugins folder is
parsed.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jinja2 import Environment

TEMPLATES = Path(__file__).resolve().parent
DASH = "—"


def text(value) -> object:
    """Any value as page text; None reads as a dash rather than the word None."""
    return DASH if value is None else value


@functools.cache
def environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=True, default=True),
        # A name the template misspells is an error, not an empty string on the page.
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["text"] = text
    return env


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
