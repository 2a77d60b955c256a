"""The sync: a pure planner, matching, and the runner that fetches, plans and applies."""
