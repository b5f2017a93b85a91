"""The case pages in Prefect: one markdown artifact per case, keyed `case-12`
(engine/casepage.py says what it shows). Written by the ingest and the monitor for the cases
they changed, at most `PAGES_PER_RUN` a run (the most urgent first: cases where someone must
act, then the rest by id), and by `find-case` for the cases it finds. A keyed artifact keeps
its history, so a page shows the case as each run left it.
"""

from __future__ import annotations

import datetime as dt

from prefect.artifacts import create_markdown_artifact
from prefect.settings import PREFECT_UI_URL
from sqlalchemy import select

from inburgering.engine import casepage
from inburgering.store.models import ACTIONABLE, Case

# Each page is one request to the server (~10-20 ms): a run writes at most this many; a case
# left out has its page written by the next run that changes it, or by `find-case`.
PAGES_PER_RUN = 200


def most_urgent(session, case_ids: set[int], limit: int) -> list[int]:  # noqa: ANN001
    """At most `limit` of these cases: the ones where someone must act first."""
    if len(case_ids) <= limit:
        return sorted(case_ids)
    ids = sorted(case_ids)
    urgent: list[int] = []
    for start in range(0, len(ids), 5000):
        urgent += session.scalars(select(Case.id).where(Case.id.in_(ids[start:start + 5000]), ACTIONABLE))
    rest = [i for i in ids if i not in set(urgent)]
    return (sorted(urgent) + rest)[:limit]


def write_pages(case_file, case_ids: set[int] | list[int], today: dt.date, *, limit: int = PAGES_PER_RUN) -> list[int]:  # noqa: ANN001
    """Write the pages of these cases (at most `limit`); returns the ids written."""
    if not case_ids:
        return []
    with case_file.reading() as session:
        chosen = most_urgent(session, set(case_ids), limit)
        pages = [casepage.case_page(session, case_id, today) for case_id in chosen]
    ui = PREFECT_UI_URL.value()
    for page in pages:
        create_markdown_artifact(markdown=casepage.page_markdown(page, ui), key=casepage.page_key(page["id"]),
                                 description=f"{page['case']} · {page['title']} · {page['status']}"
                                             + (f" · {page['days_late']} days late" if page["days_late"] else ""))
    return chosen


def named(case_ids: set[int] | list[int], shown: int = 20) -> str:
    """`case-3, case-7, case-12 (and 40 more)`: the cases a log line names."""
    ids = sorted(case_ids)
    text = ", ".join(f"case-{i}" for i in ids[:shown])
    return text + (f" (and {len(ids) - shown} more)" if len(ids) > shown else "") if ids else "none"
