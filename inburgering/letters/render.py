"""Render communications from templates/<type>.html.j2 with autoescaping.

A template sets `subject_nl`/`subject_en` and fills the blocks `nl` and `en`; the
shared layout `_layout.html.j2` puts the two languages side by side. Templates are
compiled once per process and reused (rendering is on the hot path of the engine).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Mapping

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, PackageLoader, StrictUndefined, TemplateNotFound, select_autoescape

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


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("inburgering.letters", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,  # a misspelt field is an error, not an empty gap in a letter
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["datum"] = lambda v: _date(v, "nl_NL")
    env.filters["date_en"] = lambda v: _date(v, "en_GB")
    env.filters["euro"] = lambda v: _money(v, "nl_NL")
    env.filters["euro_en"] = lambda v: _money(v, "en_GB")
    return env


class UnknownTemplate(LookupError):
    pass


def render(letter_type: str, *, kind: str, recipient_name: str, case_label: str, on_date: dt.date,
           data: Mapping[str, Any]) -> Rendered:
    try:
        template = environment().get_template(f"{letter_type}.html.j2")
    except TemplateNotFound:
        raise UnknownTemplate(f"no template for {kind} {letter_type!r} (expected letters/templates/{letter_type}.html.j2)") from None
    context = {"kind": kind, "name": recipient_name, "case": case_label, "date": on_date, "data": data,
               "sender": SENDER}
    module = template.make_module(context)
    subject = f"{getattr(module, 'subject_nl', letter_type)} / {getattr(module, 'subject_en', letter_type)}"
    return Rendered(subject=subject, body=str(module))
