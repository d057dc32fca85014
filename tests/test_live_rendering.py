"""SSE timeline partials: rendered once per version and viewer kind, each viewer's CSRF input."""

from __future__ import annotations

from app.live.rendering import SharedRenders


def test_viewers_alike_share_one_render_each_with_its_own_csrf_input() -> None:
    renders = SharedRenders()
    calls: list[str] = []

    def render(mark: str) -> str:
        calls.append(mark)
        return f"<form>{mark}</form><p>v7</p>"

    first = renders.get(("x-1", "vera", 7), render, '<input value="a">')
    second = renders.get(("x-1", "vera", 7), render, '<input value="b">')
    assert len(calls) == 1 and renders.renders == 1
    assert first == '<form><input value="a"></form><p>v7</p>'
    assert second == '<form><input value="b"></form><p>v7</p>'


def test_another_version_or_viewer_kind_renders_again() -> None:
    renders = SharedRenders()
    renders.get(("x-1", "vera", 7), lambda m: "v7", "")
    renders.get(("x-1", "vera", 8), lambda m: "v8", "")
    assert renders.get(("x-1", "carol", 8), lambda m: "carol v8", "") == "carol v8"
    assert renders.renders == 3


def test_a_render_older_than_max_age_is_made_again_and_the_cache_stays_bounded() -> None:
    renders = SharedRenders(size=2, max_age=-1.0)
    renders.get("a", lambda m: "old", "")
    assert renders.get("a", lambda m: "new", "") == "new"  # relative times are re-rendered
    bounded = SharedRenders(size=2)
    for key in "abc":
        bounded.get(key, lambda m, k=key: k, "")
    assert bounded.get("a", lambda m: "again", "") == "again"  # "a" was dropped for "c"
