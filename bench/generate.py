"""Synthetic journeys for the benchmark: deterministic for a seed, realistic in mix.

Journey `i` draws from its own random generator seeded by (seed, i), so the first 300
journeys are the same whether 300 or 100,000 are generated — the correctness test
relies on that. Every journey, over the simulated years:

- intake: residence permit, BSN and municipal registration in random order, a few days
  to weeks apart; most people have an obligation that started before 2022 (Wi2013),
  a quarter are new (Wi2021) and get a PIP (B1 route) from the municipality;
- a loan for most, then a school invoice every quarter of the course: a share refused,
  some accepted late (reminders), a few never decided (the waiting-long alert), and
  now and then a second invoice in a quarter that crosses the quarter cap (the same
  school: deferral; another school: the excess is not paid);
- exam registrations for every required part over all channels (online, school,
  form with its fee), some rescheduled, passes and fails with retakes;
- for a few percent of the long-running Wi2013 journeys an AGI application instead of
  exams, by both routes (course, alfa with its test invoice and test).

Events are plain dicts in the scenario-file vocabulary (shared/scenarios.md).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass, field

from inburgering.demo import demo_bsn

SCHOOLS = ["Taalhuis Noord", "Leercentrum Zuid", "Onderhands Nederlands", "Taalschool Oost", "NT2 Centrum West"]
MUNICIPALITIES = ["Utrecht", "Zwolle", "Enschede", "Amsterdam", "Rotterdam", "Den Haag", "Groningen", "Tilburg"]
FIRST = ["Amina", "Karim", "Lena", "Tesfay", "Mariam", "Oleksandr", "Nour", "Joao", "Fatima", "Yonas", "Irina",
         "Ahmad", "Sara", "Dawit", "Olga", "Hassan"]
LAST = ["Yusuf", "Haddad", "Petrova", "Gebre", "Nasser", "Bondar", "Al-Sayed", "Pereira", "Rahimi", "Tesfaye",
        "Kovalenko", "Osman", "Mehmedovic", "Bekele", "Ivanova", "Karimi"]
PARTS = ["lezen", "luisteren", "schrijven", "spreken", "knm"]
CHANNELS = ["online", "school", "form"]
REFUSALS = ["amount_wrong", "number_wrong", "incomplete"]


@dataclass
class Journeys:
    start: dt.date
    until: dt.date
    people: dict[str, dict] = field(default_factory=dict)  # ref -> {bsn, name, email, born}
    events: list[dict] = field(default_factory=list)  # in date order (stable within a day)

    def scenario_doc(self, name: str = "bench") -> dict:
        """The journeys as a scenario document (parse_scenario / run_scenario)."""
        return {"scenario": name, "from": self.start.isoformat(), "until": self.until.isoformat(),
                "people": self.people, "events": self.events}


def generate(journeys: int, *, years: int = 3, seed: int = 1, start: dt.date = dt.date(2023, 1, 1)) -> Journeys:
    """All journeys at once, their events merged in date order (tests, the peers)."""
    out = Journeys(start, _until(start, years))
    per_person = []
    for chunk in generate_chunks(journeys, years=years, seed=seed, start=start, chunk=journeys or 1):
        out.people.update(chunk.people)
        per_person.append(chunk.events)
    out.events = sorted((e for events in per_person for e in events), key=lambda e: e["date"])  # stable
    return out


def generate_chunks(journeys: int, *, years: int = 3, seed: int = 1, start: dt.date = dt.date(2023, 1, 1),
                    chunk: int = 2000) -> Iterator[Journeys]:
    """The same journeys, `chunk` at a time, so 10^5 of them never sit in memory together.

    A chunk's events are journey by journey, each journey's in date order. Received in that
    order, a day's events keep the order of the merged stream (person by person, each
    person's in their order), which is the order the engine applies a day's events in."""
    until = _until(start, years)
    for first in range(0, journeys, chunk):
        out = Journeys(start, until)
        for i in range(first, min(first + chunk, journeys)):
            rng = random.Random(f"{seed}:{i}")
            ref = f"j{i + 1}"
            out.people[ref] = {"bsn": demo_bsn(i + 1), "name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                               "email": f"{ref}@example.org",
                               "born": dt.date(rng.randint(1960, 2004), rng.randint(1, 12), rng.randint(1, 28))}
            events = sorted((e for e in _journey(rng, ref, start, until, years) if e["date"] <= until),
                            key=lambda e: e["date"])
            for e in events:
                for k, v in e.items():
                    if isinstance(v, dt.date):
                        e[k] = v.isoformat()
            out.events += events
        yield out


def _until(start: dt.date, years: int) -> dt.date:
    return dt.date(start.year + years, start.month, start.day) - dt.timedelta(days=1)


def _d(day: dt.date, days: int) -> dt.date:
    return day + dt.timedelta(days=days)


def _journey(rng: random.Random, ref: str, start: dt.date, until: dt.date, years: int) -> list[dict]:
    events: list[dict] = []

    def add(day: dt.date, type_: str, **fields) -> None:
        events.append({"date": day, "type": type_, "person": ref, **fields})

    # Journeys arrive over the first year, so all of them are open for most of the run.
    first = _d(start, rng.randrange(0, min(365, (until - start).days - 60)))
    wi2021 = rng.random() < 0.25
    obligation_start = first if wi2021 else dt.date(rng.randint(2018, 2021), rng.randint(1, 12), rng.randint(1, 28))
    days = [first, _d(first, rng.randint(0, 20)), _d(first, rng.randint(0, 35))]
    rng.shuffle(days)
    permit = {"obligation_start": obligation_start} if not wi2021 else {}
    add(days[0], "residence_permit_granted", **permit)
    add(days[1], "bsn_registered")
    add(days[2], "municipality_registered", municipality=rng.choice(MUNICIPALITIES))
    complete = max(days)
    ready = complete
    if wi2021:
        ready = _d(complete, rng.randint(14, 60))
        add(ready, "pip_established", route="b1")

    agi = (not wi2021 and obligation_start < dt.date(2021, 1, 1) and rng.random() < 0.12)
    # The loan and the school's invoices, one a quarter while the course lasts.
    if rng.random() < 0.85:
        loan_day = _d(complete, rng.randint(3, 40))
        add(loan_day, "loan_granted", amount=rng.choice(["10000.00", "10000.00", "8000.00", "9000.00"]))
        school = rng.choice(SCHOOLS)  # the person's school
        quarters = rng.randint(3, 4 * years)
        quarter_start = dt.date(loan_day.year, 3 * ((loan_day.month - 1) // 3) + 1, 1)
        for q in range(1, quarters + 1):
            month0 = quarter_start.month - 1 + 3 * q
            qs = dt.date(quarter_start.year + month0 // 12, month0 % 12 + 1, 1)
            invoices = [(school, rng.choice(["450.00", "600.00", "750.00", "900.00", "1200.00"]))]
            if rng.random() < 0.08:  # a catch-up invoice (deferred) or a second school (not paid): over the cap
                invoices.append((rng.choice([school, *SCHOOLS]), rng.choice(["1100.00", "1500.00"])))
            for n, (by, fee) in enumerate(invoices):
                _invoice(rng, add, ref, by, qs, q, n, fee)
    # Exams for every part, or an AGI application.
    if agi:
        _agi(rng, add, obligation_start, ready)
    else:
        _exams(rng, add, ready, with_ona=not wi2021 and obligation_start >= dt.date(2015, 1, 1))
    return events


def _invoice(rng: random.Random, add, ref: str, school: str, quarter_start: dt.date, q: int, n: int,
             fee: str) -> None:
    submitted = _d(quarter_start, rng.randint(5, 55))
    number = f"F-{ref}-{q}-{n}"
    add(submitted, "invoice_submitted", school=school, invoice_number=number,
        contract_number=f"C-{ref}", course_type="Inburgering", description=f"lessen kwartaal {q}",
        invoice_date=submitted, period_from=quarter_start, period_to=_d(submitted, -1),  # this quarter's lessons
        courses=rng.randint(8, 30), course_fee=fee, materials_fee=rng.choice(["0.00", "0.00", "35.00"]),
        exam_fee="0.00")
    roll = rng.random()
    if roll < 0.10:
        add(_d(submitted, rng.randint(1, 12)), "invoice_refused", invoice_number=number,
            reason=rng.choice(REFUSALS))
    elif roll < 0.97:
        late = rng.random() < 0.15  # past the reminder
        add(_d(submitted, rng.randint(15, 40) if late else rng.randint(1, 13)), "invoice_accepted",
            invoice_number=number)
    # else: never decided — reminders, then the waiting-long alert


def _exams(rng: random.Random, add, ready: dt.date, *, with_ona: bool) -> None:
    parts = PARTS + (["ona"] if with_ona else [])
    rng.shuffle(parts)
    day = _d(ready, rng.randint(30, 120))
    for part in parts:
        for attempt in range(3):
            channel = rng.choice(CHANNELS if part != "ona" else ["online", "form"])
            exam_date = _d(day, rng.randint(45, 90))
            add(day, "exam_registered", part=part, channel=channel, exam_date=exam_date,
                location=rng.choice(MUNICIPALITIES))
            if channel == "form":
                add(_d(day, rng.randint(1, 14)), "exam_fee_paid", part=part)
            if rng.random() < 0.05:
                exam_date = _d(exam_date, rng.randint(7, 28))
                add(_d(day, rng.randint(15, 20)), "exam_rescheduled", part=part, exam_date=exam_date,
                    location=rng.choice(MUNICIPALITIES))
            passed = rng.random() < 0.75
            result_day = _d(exam_date, rng.randint(7, 28))
            add(result_day, "exam_result", part=part, passed=passed)
            day = _d(result_day, rng.randint(5, 40))
            if passed:
                break


def _agi(rng: random.Random, add, obligation_start: dt.date, ready: dt.date) -> None:
    # An exemption is asked for once the obligation is at least 2.5 years old.
    day = max(_d(ready, rng.randint(30, 200)), _d(obligation_start, 915 + rng.randint(0, 120)))
    if rng.random() < 0.6:
        add(day, "agi_application_received", route="course",
            hours={"integration": rng.choice([450, 600]), "nt2": 180, "alfa": 0}, school_listed_at_course_start=True,
            attempts={p: {"integration": 3, "nt2": 1} for p in ("lezen", "luisteren", "schrijven", "spreken", "knm")})
        add(_d(day, rng.randint(5, 30)), "school_declaration_received")
    else:
        add(day, "agi_application_received", route="alfa", hours={"integration": 280, "nt2": 0, "alfa": 320},
            school_listed_at_course_start=True, attempts={})
        add(_d(day, rng.randint(3, 15)), "school_declaration_received")
        paid = _d(day, rng.randint(16, 40))
        add(paid, "alfa_test_invoice_paid")
        add(_d(paid, rng.randint(20, 40)), "alfa_test_taken", active=rng.random() < 0.8)
