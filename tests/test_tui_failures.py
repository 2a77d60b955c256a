"""The console when its workers fail (a full disk, an I/O error, a bug under a screen): what was
and was not done is said in one line, nothing is left half-done unsaid, and keys typed ahead
for what the failed work would have shown do not act on what is shown instead."""

from __future__ import annotations

import errno
import threading

from textual.widgets import Input
from tui_helpers import burst, press, screen_text, settle, started
from tui_records_data import NOW, build_store


def failing(monkeypatch, target, name: str, error: BaseException, times: int | None = None):
    """`target.name` raises `error` when called from a worker's thread (`times` times at most)."""
    real = getattr(target, name)
    raised = [0]

    def wrapped(*args, **kwargs):
        if threading.current_thread() is not threading.main_thread() and (
            times is None or raised[0] < times
        ):
            raised[0] += 1
            raise error
        return real(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapped)


def notices(app) -> list[str]:
    return [n.message for n in app._notifications]  # noqa: SLF001


async def test_a_failed_search_is_said_failed_and_the_enter_typed_after_it_opens_nothing(
    tmp_path, monkeypatch
):
    """`/ lovelace enter enter` with the search failing: the second enter opened a hit of the
    search before (hopper), under a title naming lovelace; and with no hits before, the title
    said "0 found" and "No account matches", which reads as no such account."""
    store = build_store(tmp_path / "store")
    async with started(store, start=("users", None), clock=lambda: NOW, notifications=True) as (
        app,
        pilot,
    ):
        burst(app, "slash", *"hopper", "enter")
        await settle(pilot, 4)
        assert "found for 'hopper'" in screen_text(app)
        failing(monkeypatch, store, "search_accounts", OSError(errno.EIO, "Input/output error"))
        burst(app, "slash", "ctrl+u", *"lovelace", "enter", "enter")
        await settle(pilot, 4)
        assert type(app.screen).__name__ == "UsersScreen"
        text = screen_text(app)
        assert "the search for 'lovelace' failed" in text
        assert "0 found" not in text and "No account matches" not in text
        assert "Input/output error" in text
        assert not app.screen.hits_table.all_rows
        assert any("dropped: the search failed" in m for m in notices(app))
        monkeypatch.undo()
        await press(pilot, "g")  # again, the fault gone
        await settle(pilot, 3)
        assert "failed" not in screen_text(app).splitlines()[0]


async def test_a_school_not_added_for_a_full_disk_says_so_and_keeps_its_fields(demo, monkeypatch):
    """A full disk under Add school: the form said "Adding…" for good, the failure was a notice
    named after the function, and the `e` typed for the new school's hub went into its DfE."""
    from uso_tui.store.transaction import TinyTransaction

    async with started(demo.store, notifications=True) as (app, pilot):
        await press(pilot, "n")
        form = app.screen
        fields = {
            "dfe": "204-3299",
            "name": "Oak",
            "url": "https://oak.isams.cloud",
            "client_id": "oak",
            "secret": "t0p-s3cret",
        }
        for field, value in fields.items():
            form.query_one(f"#f-{field}", Input).value = value
        await settle(pilot)
        failing(monkeypatch, TinyTransaction, "commit", OSError(errno.ENOSPC, "No space left"))
        burst(app, "ctrl+s", "e")
        await settle(pilot, 4)
        text = screen_text(app)
        assert form.query_one("#f-dfe", Input).value == "204-3299"
        assert "Adding…" not in text and "Not added: OSError" in text
        assert any("dropped" in m for m in notices(app))
        assert "204-3299" not in {s.dfe for s in demo.store.list_schools()}


async def test_a_restore_that_fails_says_not_restored_and_the_error_s_kind(tmp_path, monkeypatch):
    from uso_tui.store.transaction import TinyTransaction
    from uso_tui.tui.applying import apply_each

    store = build_store(tmp_path / "store")
    applied = apply_each(["a.204"], lambda _: 1 / 0, failed="Not restored")
    assert applied.errors == ["Not restored: a.204: ZeroDivisionError: division by zero"]
    async with started(
        store, start=("bulk_results", "204-3210"), clock=lambda: NOW, notifications=True
    ) as (app, pilot):
        await press(pilot, "4")
        failing(monkeypatch, TinyTransaction, "commit", RuntimeError("boom"), times=1)
        await press(pilot, "r")
        await press(pilot, "y")
        await settle(pilot, 3)
        assert any(
            m.startswith("Not restored: ") and "RuntimeError: boom" in m for m in notices(app)
        )


async def test_an_exclusion_saved_whose_unallocation_fails_says_what_was_saved(
    demo_ran, monkeypatch
):
    """`x u`: the case was decided (excluded, on the list) by one transaction, then unallocating
    the person's account failed in another: the console said "Not saved", the case decided and
    the account still active."""
    from tui_helpers import NOW as DEMO_NOW

    from uso_tui.sync import admin

    store = demo_ran.store
    dfe = max(store.list_schools(), key=lambda s: s.open_cases).dfe
    case = store.cases(dfe)[0]
    rec = case.mis_record()
    account = admin.add_account(
        store, dfe, role=case.role, forename=rec.forename, surname=rec.surname, dob=rec.dob,
        operator="setup", now=DEMO_NOW, force=True,
    )  # fmt: skip
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        assert app.screen.case.case_id == case.case_id
        await press(pilot, "x")
        assert type(app.screen).__name__ == "ExcludeAsk"
        failing(monkeypatch, admin, "add_exclusion", OSError(errno.ENOSPC, "No space left"))
        await press(pilot, "u")
        await settle(pilot, 4)
        said = notices(app)
        assert any(
            m.startswith("Excluded (saved), but the account was not unallocated") for m in said
        )
        assert not any(m.startswith("Not saved") for m in said)
        assert store.case(case.case_id).status != "open"
        assert store.account(account.username).status == "active"


async def test_keys_typed_after_a_decision_that_failed_are_dropped_and_said(demo_ran, monkeypatch):
    from uso_tui.store.transaction import TinyTransaction

    store = demo_ran.store
    dfe = max(store.list_schools(), key=lambda s: s.open_cases).dfe
    async with started(store, "matching", dfe, notifications=True) as (app, pilot):
        failing(monkeypatch, TinyTransaction, "commit", OSError(errno.ENOSPC, "No space"), times=1)
        burst(app, "m", "y", "n", "escape")
        await settle(pilot, 6)
        assert app.screen.kind == "matching"
        assert any("dropped: the decision was not saved" in m for m in notices(app))
