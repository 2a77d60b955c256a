"""Whole School Bulk Results, one module a tab (see screen.py)."""

from uso_tui.tui.screens.bulk_results.exclusions_tab import ExclusionForm
from uso_tui.tui.screens.bulk_results.file_tab import RunPicker
from uso_tui.tui.screens.bulk_results.screen import BulkResultsScreen

__all__ = ["BulkResultsScreen", "ExclusionForm", "RunPicker"]
