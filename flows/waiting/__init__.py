"""The wait run: a case where someone must act, shown as a suspended run of its process's wait
flow, with a typed form; staff answer it; the answer is applied. All of it is here:

- `cases.py`   which waiting cases show a run (late, a staff decision, opened by staff), the
               run's name, tags and form description, and the plan that keeps one live run per
               such case (plain functions over case rows);
- `sync.py`    the task that carries that plan out in Prefect (bulk-creates runs already
               suspended with their form, renames, cancels) and records it in the case file;
- `answer.py`  the body every wait flow runs when resumed: applies the answer, or suspends
               again with the refusal's sentence;
- `forms.py`   which form a waiting case offers, pre-filled; `form_rules.py` the rules a form
               holds in its JSON schema (checked by the server) and in its model alike.

Each process's forms live beside its flow, in `flows/<process>/forms.py`: a `StaffForm` per
status that waits for staff, with `to_event()`, listed in that module's `FORMS` by status. To
add a form, write the class there and add it to `FORMS`; `forms.py` picks it up.

Nothing below flows/ imports this package: tasks/ and inburgering/ know nothing of wait runs.
"""
