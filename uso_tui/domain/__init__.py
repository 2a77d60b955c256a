"""Pure domain: dataclasses and rules. Imports nothing from the rest of uso_tui."""
