"""The web layer: Litestar handlers, templates, identity and the JSON API."""
