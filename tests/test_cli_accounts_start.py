"""`uso-tui accounts --search` is typed by an operator and waited for: its process loads only what
a search needs, not the console, the MIS client or the sync layer's event loop."""

from __future__ import annotations

import subprocess
import sys

from uso_tui.store import open_store

NOT_NEEDED = (
    "asyncio",
    "textual",
    "httpx",
    "rapidfuzz",
    "importlib.metadata",
    "uso_tui.sync.runner",
    "uso_tui.tui",
)


def test_a_search_in_a_fresh_process_loads_nothing_it_does_not_need(tmp_path):
    open_store(tmp_path / "data", create=True)
    code = (
        "import sys\n"
        "from uso_tui.cli.main import main\n"
        f"status = main(['--data-dir', {str(tmp_path / 'data')!r}, 'accounts', '--search', 'x'])\n"
        f"print(status, sorted(m for m in {NOT_NEEDED!r} if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []"
