"""Two workers changing one case at once: the second update is refused, not lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from inburgering.engine import service
from inburgering.store.models import Case


def test_a_concurrent_update_of_a_case_is_refused(case_file):
    day = dt.date(2020, 3, 1)
    with case_file.transaction() as session:
        service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
        service.receive(session, {"type": "bsn_registered", "person": "p1", "date": day.isoformat()}, source="t",
                        received_on=day)
    service.ingest(case_file, day)

    first, second = case_file.sessions(), case_file.sessions()
    mine = first.scalars(select(Case)).one()
    theirs = second.scalars(select(Case)).one()
    assert mine.version == theirs.version == 1
    mine.status = "changed by worker 1"
    first.commit()
    theirs.status = "changed by worker 2"
    with pytest.raises(StaleDataError):
        second.commit()
    second.rollback()
    with case_file.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert (case.status, case.version) == ("changed by worker 1", 2)
    first.close()
    second.close()
