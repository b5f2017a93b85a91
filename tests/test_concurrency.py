"""Two workers changing one case at once: the second update is refused, not lost.

Interleaved write transactions exist on PostgreSQL only: on SQLite every writing transaction
begins IMMEDIATE, so a second writer waits for the first (tests/test_workers.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from inburgering.domain.events import parse_event
from inburgering.domain.registry import process_named
from inburgering.engine import service
from inburgering.engine.batch import Batch, held_letter_types
from inburgering.store.db import CaseFile, load_policy
from inburgering.store.models import Case


@pytest.fixture
def pg_case_file(postgres):
    cf = CaseFile(postgres.new_database())
    yield cf
    cf.dispose()


def test_a_concurrent_update_of_a_case_is_refused(pg_case_file):
    case_file = pg_case_file
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


def test_the_engine_refuses_a_batch_whose_case_another_worker_changed(pg_case_file):
    """The batch engine writes cases with a version-checked UPDATE: when another worker
    changed the case after the batch read it, the batch fails as a whole (and its task is
    retried) instead of overwriting that change."""
    case_file = pg_case_file
    day = dt.date(2020, 3, 1)
    with case_file.transaction() as session:
        service.register_person(session, ref="p1", bsn="123456782", name="Amina Yusuf")
        service.receive(session, {"type": "bsn_registered", "person": "p1", "date": day.isoformat()}, source="t",
                        received_on=day)
    service.ingest(case_file, day)
    with case_file.transaction() as session:
        service.receive(session, {"type": "residence_permit_granted", "person": "p1", "date": day.isoformat()},
                        source="t", received_on=day)

    session = case_file.sessions()
    session.begin()
    batch = Batch(session, day, load_policy(session), held_letter_types(session, day))
    person_id = session.scalar(select(Case.person_id))
    batch.load_people([person_id])
    with case_file.transaction() as other:  # another worker changes the case meanwhile
        other.scalars(select(Case)).one().status = "changed by the other worker"
    (case,) = batch.cases.values()
    state = batch.state_of(case)
    event = parse_event({"type": "residence_permit_granted", "person": "p1", "date": day.isoformat()})
    ctx = batch.context(person_id)
    batch.commit_transition(case, process_named("intake").on_event(state, event, ctx), cause="test")
    with pytest.raises(StaleDataError, match="1 of 1 cases were changed by another worker"):
        batch.finish()
    session.rollback()
    session.close()
    with case_file.transaction() as session:
        case = session.scalars(select(Case)).one()
        assert (case.status, case.version) == ("changed by the other worker", 2)
