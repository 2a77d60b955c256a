"""Fixtures shared by the test modules: the command line run in-process on a data directory in
tmp_path (beside the IRIS simulator when a test needs one), and the console's demo store."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.register_assert_rewrite("cli_support", "factories", "tui_helpers")

from cli_support import SECRET, SIM_SECRET, Cli  # noqa: E402
from svg_text import explain  # noqa: E402
from tui_helpers import TODAY, run_all  # noqa: E402

from uso_tui.demo import Demo, build_demo_store, demo_params, make_demo_simulator  # noqa: E402


@pytest.fixture(autouse=True)
def _runs_abandoned_stay_in_their_test(monkeypatch) -> None:
    """A run this process could not record as ended is kept in a set of the process, by run id
    (a process works on one store): a test's must not make another store's run of that id read
    interrupted in a later test on the same pytest worker."""
    from uso_tui.store import liveness  # noqa: PLC0415

    monkeypatch.setattr(liveness, "_abandoned", set())
    # the operator is who ran sudo (config.login_name): not the suite run under sudo's
    monkeypatch.delenv("SUDO_USER", raising=False)


@pytest.fixture
def snap_compare(snap_compare, request):
    """pytest-textual-snapshot's, failing with what differs on the screen (the report it leaves
    behind is not kept by CI, and a picture that differs only on a loaded machine was left
    unexplained)."""
    import pickle  # noqa: PLC0415

    from pytest_textual_snapshot import node_to_report_path  # noqa: PLC0415

    def compare(app, *args, **kwargs) -> bool:
        if snap_compare(app, *args, **kwargs):
            return True
        _, expected, actual, *_ = pickle.loads(node_to_report_path(request.node).read_bytes())
        why = explain(expected, actual)
        del expected, actual  # (whole SVGs, printed as the frame's locals otherwise)
        raise AssertionError(f"the picture differs from its snapshot: {why}")

    return compare


# -- the command line ----------------------------------------------------------------------------

# Set in a shell they would send the command line elsewhere (a configured store, MIS hosts allowed,
# tracebacks, a forced SSH command).
HOST_SETTINGS = (
    "USO_TUI_ALLOWED_MIS_HOSTS",
    "USO_TUI_DATA_DIR",
    "USO_TUI_DEBUG",
    "SSH_ORIGINAL_COMMAND",
)


@pytest.fixture
def cli_env(monkeypatch) -> None:
    """The environment of a command-line test: none of the host's settings, USO_TEST_SECRET set."""
    for name in HOST_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("USO_TEST_SECRET", SECRET)


@pytest.fixture
def cli_at(cli_env, capsys) -> Callable[[Path], Cli]:
    """Makes the command line on a given data directory."""

    def make(data_dir: Path) -> Cli:
        return Cli(data_dir, capsys)

    return make


@pytest.fixture
def cli(cli_at, tmp_path) -> Cli:
    """The command line on an empty data directory in tmp_path."""
    return cli_at(tmp_path / "data")


@pytest.fixture
def sim(cli_env, monkeypatch):
    """The IRIS simulator on a free port, its host allowed and its secret in USO_SIM_SECRET."""
    from uso_tui.iris.server import start_background
    from uso_tui.iris.simulator import Simulator

    sim = Simulator()
    root, stop = start_background(sim, port=0)
    monkeypatch.setenv("USO_TUI_ALLOWED_MIS_HOSTS", root.removeprefix("http://"))
    monkeypatch.setenv("USO_SIM_SECRET", SIM_SECRET)
    sim.root = root
    yield sim
    stop()


# -- the console's demo store --------------------------------------------------------------------


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo-template") / "store"
    build_demo_store(path, today=TODAY)
    return path


@pytest.fixture
def demo(demo_template, tmp_path) -> Iterator[Demo]:
    """A fresh copy of the demo store, its simulator served on a free port."""
    from uso_tui.iris.server import start_background

    path = tmp_path / "store"
    shutil.copytree(demo_template, path)
    sim = make_demo_simulator(**demo_params(path, TODAY))
    root, stop = start_background(sim)
    try:
        yield build_demo_store(path, sim=sim, root=root, today=TODAY)
    finally:
        stop()


@pytest.fixture
def demo_ran(demo) -> Demo:
    """The demo after every school's run of the day: the matching queues have cases."""
    run_all(demo)
    return demo


@pytest.fixture
def demo_held_whole(demo) -> Demo:
    """demo_ran, the held school's two reports each a quarter short: its run is held whole."""
    for report in ("staff", "students"):
        demo.lose_records(demo.held_school, report)
    run_all(demo)
    return demo
