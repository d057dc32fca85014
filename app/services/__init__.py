"""Use cases the web layer and the API call; no web framework imports here."""
