"""Helpers for the command-line tests: run `main(argv)` in-process on a store in tmp_path with a
fixed clock, and take a byte-exact snapshot of a data directory."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from uso_tui.cli.main import main

START = datetime(2026, 9, 1, 8, 0, 0)
SECRET = "s3cr3t-Value-7f9a2c"  # distinctive, so a leak anywhere is found by a plain search
SIM_SECRET = "sim-Secret-4411"  # the simulator's client secret, given in USO_SIM_SECRET


class Clock:
    """Each call is one minute after the previous: audit order is deterministic."""

    def __init__(self, start: datetime = START) -> None:
        self.t = start - timedelta(minutes=1)

    def __call__(self) -> datetime:
        self.t += timedelta(minutes=1)
        return self.t


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


class Cli:
    """Runs the CLI; the fixture that makes it sets USO_TEST_SECRET to SECRET."""

    def __init__(self, data_dir: Path, capsys, clock: Clock | None = None) -> None:
        self.data_dir = data_dir
        self.capsys = capsys
        self.clock = clock or Clock()

    def __call__(
        self, *argv: str, stdin: str | None = None, operator: str | None = "alice"
    ) -> Result:
        """operator None: no --operator (the login name, or `scheduler` for run-due)."""
        self.capsys.readouterr()
        who = ["--operator", operator] if operator is not None else []
        args = ["--data-dir", str(self.data_dir), *who, *argv]
        status = main(
            args, clock=self.clock, stdin=io.StringIO(stdin) if stdin is not None else None
        )
        captured = self.capsys.readouterr()
        return Result(status, captured.out, captured.err)

    def ok(self, *argv: str, **kw) -> Result:
        res = self(*argv, **kw)
        assert res.status == 0, res.err
        return res

    def add_school(
        self,
        dfe: str = "204-3210",
        *,
        name: str = "Hill School",
        url: str | None = None,
        mis: str = "iSAMS",
        extra: tuple[str, ...] = (),
    ) -> Result:
        url = url or f"https://{name.split()[0].lower()}{dfe[-4:]}.isams.cloud"
        return self.ok(
            *school_add_args(dfe, name=name, mis=mis, url=url, client_id="client-" + dfe),
            *extra,
        )

    def add_account(
        self,
        dfe: str,
        forename: str,
        surname: str,
        dob: str,
        *,
        role: str = "pupil",
        extra: tuple[str, ...] = (),
    ) -> Result:
        """User Request Single through `account add`; it must succeed."""
        return self.ok(*account_add_args(dfe, forename, surname, dob, role=role), *extra)

    def add_sim_school(
        self,
        sim,
        dfe: str,
        *,
        client_id: str,
        students=(),
        staff=(),
        extra: tuple[str, ...] = (),
    ) -> Result:
        """A school served by the simulator (conftest's `sim`) with these records, added through
        the command line with the simulator's secret."""
        sim.add_school(
            dfe, client_id=client_id, secret=SIM_SECRET, students=list(students), staff=list(staff)
        )
        return self.ok(
            *school_add_args(
                dfe,
                name=f"School {dfe}",
                url=f"{sim.root}/{dfe}",
                client_id=client_id,
                secret=("--client-secret-env", "USO_SIM_SECRET"),
            ),
            *extra,
        )


def account_add_args(
    dfe: str, forename: str, surname: str, dob: str, *, role: str = "pupil"
) -> list[str]:
    """`account add`'s arguments for one person."""
    return [
        "account",
        "add",
        dfe,
        "--role",
        role,
        "--forename",
        forename,
        "--surname",
        surname,
        "--dob",
        dob,
    ]


def school_add_args(
    dfe: str,
    *,
    name: str,
    url: str,
    mis: str = "iSAMS",
    client_id: str = "c",
    secret: tuple[str, ...] = ("--client-secret-env", "USO_TEST_SECRET"),
) -> list[str]:
    """`school add`'s arguments for one school; its secret read from USO_TEST_SECRET unless
    `secret` gives other options (or none)."""
    return [
        "school",
        "add",
        dfe,
        "--name",
        name,
        "--mis",
        mis,
        "--url",
        url,
        "--client-id",
        client_id,
        *secret,
    ]


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file under root with its bytes (folders listed with b'<dir>')."""
    out: dict[str, bytes] = {}
    if not root.exists():
        return out
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = b"<dir>" if path.is_dir() else path.read_bytes()
    return out


def files_containing(root: Path, needle: str) -> list[str]:
    data = needle.encode()
    return [
        str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and data in p.read_bytes()
    ]
