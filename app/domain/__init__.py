"""Pure domain logic: no web framework, database or Temporal imports live here."""
