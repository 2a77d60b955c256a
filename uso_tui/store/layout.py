"""Where each thing lives in a data directory (see the layout in api.py)."""

from __future__ import annotations

from pathlib import Path

NAMES_KEYS = "names.keys"  # beside a school's names.idx: its find_people keys (people.py)
WHY_IDX = "why.idx"  # a school's latest processed records, one line each (why_index.py)


class Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.store_json = root / "store.json"
        self.config_json = root / "config.json"
        self.operators_json = root / "operators.json"  # who may do what (config.load_operators)
        self.schools_json = root / "schools.json"  # the directory before schema 5 (upgraded)
        self.directory = root / "directory"  # the school directory's shards (directory.py)
        self.recent_json = root / "recent.json"
        self.recent_dir = root / "recent"  # the feed's deltas (audit.py)
        self.secrets = root / "secrets"
        self.schools = root / "schools"
        self.registry = root / "registry"
        self.global_audit = root / "audit"

    def secret(self, dfe: str) -> Path:
        return self.secrets / f"{dfe}.secret"

    def school_dir(self, dfe: str) -> Path:
        return self.schools / dfe

    def data(self, dfe: str) -> Path:
        return self.schools / dfe / "data.json"

    def runs_archive(self, dfe: str) -> Path:
        return self.schools / dfe / "runs-archive.json"

    def cases_archive(self, dfe: str) -> Path:
        return self.schools / dfe / "cases-archive.json"

    def names_idx(self, dfe: str) -> Path:
        return self.schools / dfe / "names.idx"

    def names_keys(self, dfe: str) -> Path:
        return self.schools / dfe / NAMES_KEYS

    def why_idx(self, dfe: str) -> Path:
        return self.schools / dfe / WHY_IDX

    def audit_dir(self, dfe: str | None) -> Path:
        return self.schools / dfe / "audit" if dfe else self.global_audit

    def files_dir(self, dfe: str) -> Path:
        return self.schools / dfe / "files"

    def processed_file(self, dfe: str, run_id: str) -> Path:
        return self.files_dir(dfe) / f"{run_id}.json"

    def registry_file(self, la: str) -> Path:
        return self.registry / f"{la}.json"

    def arrivals_file(self, la: str) -> Path:
        """The accounts that moved into the LA's schools from another LA's (store/arrivals.py)."""
        return self.registry / f"{la}.arrivals.json"


def school_of_run(run_id: str) -> str:
    """`204-3210-r42` -> `204-3210`."""
    return run_id.rsplit("-r", 1)[0]


def school_of_case(case_id: str) -> str:
    """`204-3210-c17` -> `204-3210`."""
    return case_id.rsplit("-c", 1)[0]


def seq_of(ident: str) -> int:
    """The counter of a run or case id (`204-3210-r42` -> 42); -1 when malformed."""
    tail = ident.rsplit("-", 1)[-1][1:]
    return int(tail) if tail.isdigit() else -1


def la_of_username(username: str) -> str:
    """`jsmith3.204` -> `204` (the registry file that holds it)."""
    la = username.rsplit(".", 1)[-1] if "." in username else ""
    return la if la.isascii() and la.isalnum() else "_"  # never a path from an odd username
