"""Render communications from templates/<type>.html.j2 with autoescaping.

A template sets `subject_nl`/`subject_en` and fills the blocks `nl` and `en`; the
shared layout `_layout.html.j2` puts the two languages side by side.

Rendering is on the hot path of the engine, so everything that does not depend on the
letter is done once per process (see `bench/letters.py` for the figure):
- templates are compiled once, looked up in a plain dict, never checked on disk again;
- a letter is rendered by the compiled template's render function straight into a
  string (what `Template.make_module` does, without a module object per letter);
- `data.field` on a JSON dict goes straight to the key (`_LetterEnvironment.getattr`);
- the escaping of each `{{ value }}` skips the Markup wrapper (`_LetterTemplate`);
- each filter remembers the dates and amounts it formatted (`_memo`, in front of Babel).
The output is exactly what plain Jinja2 renders from the same templates
(tests/test_letters_render.py compares the two for every template).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Mapping

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, PackageLoader, StrictUndefined, Template, TemplateNotFound
from markupsafe import escape

try:  # MarkupSafe's escaping of a plain str, without wrapping the result in Markup
    from markupsafe import _escape_inner
except ImportError:  # pragma: no cover - a MarkupSafe without it: the public escape, as Jinja does
    _escape_inner = escape

from inburgering.domain.events import header_safe  # noqa: E402
from inburgering.letters.versions import archived, current_version, is_archived  # noqa: E402

SENDER = "Dienst Uitvoering Onderwijs (DUO) — Inburgering"


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str


def _date(value: Any, locale: str) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        value = dt.date.fromisoformat(value)
    return _long_date(value, locale)


def _money(value: Any, locale: str) -> str:
    return _euro(str(value), locale)


# Babel's formatting is the costliest part of a letter, and the same dates and amounts
# recur in thousands of letters a day: each is formatted once.
@lru_cache(maxsize=8192)
def _long_date(value: dt.date, locale: str) -> str:
    return format_date(value, format="long", locale=locale)


@lru_cache(maxsize=8192)
def _euro(value: str, locale: str) -> str:
    return format_currency(Decimal(value), "EUR", locale=locale)


def _memo(format_value: Callable[[Any], str], limit: int = 8192) -> Callable[[Any], str]:
    """A filter that remembers what `format_value` made of each ISO date or amount string
    (as letter data holds them) and of each date. Other values (None, Decimal, numbers)
    are formatted every time: equal numbers of different types may print differently."""
    seen: dict[Any, str] = {}

    def filter_(value: Any) -> str:
        if type(value) is str or type(value) is dt.date:
            try:
                return seen[value]
            except KeyError:
                if len(seen) >= limit:
                    seen.clear()
                text = seen[value] = format_value(value)  # a malformed value raises, and is not kept
                return text
        return format_value(value)

    return filter_


# Attributes a dict has as an object (`items`, `keys`, `get`, ...): for these names
# Jinja's `data.name` gives the attribute, not the key, and so must we.
_DICT_ATTRIBUTES = frozenset(dir(dict))


class _LetterEnvironment(Environment):
    """Letter data is JSON, so `data.field` is nearly always a key of a plain dict.
    Jinja first tries `getattr(data, "field")`, which fails with an AttributeError (an
    exception per field per letter) before it indexes the dict; for a plain dict and a
    name that is not one of its attributes that attempt cannot succeed, so go straight
    to the key. The result, and the StrictUndefined for a missing key, are the same."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


def _escape_output(value: Any) -> str:
    """Escape one `{{ value }}` of a template's output. The compiled code passes every
    output value through `escape`, which wraps the escaped text in Markup; output pieces
    are only ever joined into the letter (or into a macro's or block's Markup), so for a
    plain string the escaped text alone gives the same letter, faster. Anything else
    (Markup from a macro, numbers, Undefined) goes through MarkupSafe's own escape."""
    if type(value) is str:
        return _escape_inner(value)
    return escape(value)


class _LetterTemplate(Template):
    @classmethod
    def from_code(cls, environment: Environment, code: Any, globals: Any, uptodate: Any = None) -> Template:
        template = super().from_code(environment, code, globals, uptodate)
        # The compiled module's functions look `escape` up in the module's namespace.
        namespace = template.root_render_func.__globals__
        if namespace.get("escape") is not escape:  # a Jinja2 that compiles differently: leave it alone
            return template
        namespace["escape"] = _escape_output
        return template


@lru_cache(maxsize=16)
def environment(version: str | None = None) -> Environment:
    """The templates as they are now (`version` None), or the archived set of a version (the
    current one too, once archived: what a stored letter names is what it renders with)."""
    if version is None or (version == current_version() and not is_archived(version)):
        loader = PackageLoader("inburgering.letters", "templates")
    else:
        loader = FileSystemLoader(str(archived(version)))
    env = _LetterEnvironment(
        loader=loader,
        # Every template is HTML, and so is a template from a string: always escape
        # (what select_autoescape(default=True, default_for_string=True) decides, without
        # asking it per letter).
        autoescape=True,
        undefined=StrictUndefined,  # a misspelt field is an error, not an empty gap in a letter
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the package: compile each once, never stat it again
        # (a template's `extends`/`import` looks up its layout on every render).
        auto_reload=False,
        cache_size=-1,  # a plain dict: there are a handful of templates
    )
    env.template_class = _LetterTemplate
    env.filters["datum"] = _memo(lambda v: _date(v, "nl_NL"))
    env.filters["date_en"] = _memo(lambda v: _date(v, "en_GB"))
    env.filters["euro"] = _memo(lambda v: _money(v, "nl_NL"))
    env.filters["euro_en"] = _memo(lambda v: _money(v, "en_GB"))
    return env


class UnknownTemplate(LookupError):
    pass


def _letter_types() -> tuple[str, ...]:
    from importlib.resources import files

    return tuple(sorted(p.name.removesuffix(".html.j2") for p in files("inburgering.letters").joinpath("templates")
                        .iterdir() if p.name.endswith(".html.j2") and not p.name.startswith("_")))


# Every letter, e-mail and notice type there is (one template each): a closed list for staff
# (hold, release, resend), so a typo is refused instead of doing nothing.
LETTER_TYPES: tuple[str, ...] = _letter_types()


@dataclass(frozen=True)
class _Letter:
    template: Template
    globals: dict[str, Any]  # the template's globals, copied once (Jinja copies them per render)


_letters: dict[tuple[str | None, str], _Letter] = {}


def _letter(letter_type: str, kind: str, version: str | None) -> _Letter:
    try:
        return _letters[(version, letter_type)]
    except KeyError:
        pass
    try:
        template = environment(version).get_template(f"{letter_type}.html.j2")
    except TemplateNotFound:
        raise UnknownTemplate(f"no template for {kind} {letter_type!r} (expected letters/templates/{letter_type}.html.j2)") from None
    letter = _letters[(version, letter_type)] = _Letter(template, dict(template.globals))
    return letter


def render(letter_type: str, *, kind: str, recipient_name: str, case_label: str, on_date: dt.date,
           data: Mapping[str, Any], version: str | None = None) -> Rendered:
    """A letter from the templates as they are (`version` None) or as they were in an archived
    set: the same version and data give the same bytes, years later."""
    letter = _letter(letter_type, kind, version)
    template = letter.template
    env = template.environment
    # What template.make_module(context) does, minus the module: a fresh context over the
    # globals and this letter's fields, the compiled render function joined to a string,
    # and the subjects the template exported (its top-level `{% set %}`).
    context = env.context_class(env, {**letter.globals, "kind": kind, "name": recipient_name, "case": case_label,
                                      "date": on_date, "data": data, "sender": SENDER},
                                template.name, template.blocks)
    body = env.concat(template.root_render_func(context))
    exported = context.exported_vars
    subject_nl = context.vars["subject_nl"] if "subject_nl" in exported else letter_type
    subject_en = context.vars["subject_en"] if "subject_en" in exported else letter_type
    return Rendered(subject=header_safe(f"{subject_nl} / {subject_en}"), body=body)
