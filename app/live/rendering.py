"""Partials rendered once per version and shared by every viewer the render would be equal for."""

from __future__ import annotations

import html
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from litestar import Request
from litestar.utils.scope.state import ScopeState

# Stands in for the viewer's CSRF input in a shared render; each viewer's own goes in its place.
CSRF_MARK = "\x00stepladder-csrf-input\x00"


def csrf_input(request: Request[Any, Any, Any]) -> str:
    """The hidden form field carrying this request's CSRF token, as Litestar's templates get it."""
    token = ScopeState.from_scope(request.scope).csrf_token
    value = token if isinstance(token, str) else ""
    return f'<input type="hidden" name="_csrf_token" value="{html.escape(value)}" />'


class SharedRenders:
    """Rendered partials by key (e.g. execution, version, viewer's user, embedded or not), kept
    for `max_age` seconds and at most `size` of them.

    With 1,000 viewers on 200 executions, rendering the timeline per viewer per change costs a
    template render (~3-10 ms for 50 steps) five times per change; shared, once per change and
    user. The key must hold everything the render reads besides the CSRF token (the only
    per-viewer part, substituted after). Relative times ("3 min ago") are the render's: hence
    the short `max_age` (the page's script keeps them true anyway)."""

    def __init__(self, size: int = 512, max_age: float = 2.0) -> None:
        self._size = size
        self._max_age = max_age
        self._renders: OrderedDict[Hashable, tuple[float, str]] = OrderedDict()
        self.renders = 0
        """Renders made (the rest were shared)."""

    def get(self, key: Hashable, render: Callable[[str], str], csrf: str) -> str:
        """The partial for `key`: `render(csrf_placeholder)` once, then shared; `csrf` (this
        viewer's CSRF input) replaces the placeholder."""
        now = time.monotonic()
        kept = self._renders.get(key)
        if kept is None or now - kept[0] > self._max_age:
            self.renders += 1
            kept = (now, render(CSRF_MARK))
            self._renders[key] = kept
            self._renders.move_to_end(key)
            while len(self._renders) > self._size:
                self._renders.popitem(last=False)
        return kept[1].replace(CSRF_MARK, csrf)
