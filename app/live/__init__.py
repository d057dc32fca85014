"""Live updates: the timeline and inbox hubs of a web process, and their SSE streams."""
