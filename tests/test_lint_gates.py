"""The structure gates `make gates` runs say what they flag and fail only then."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.settings import REPO_ROOT

CHECK_MODULE_SIZE = REPO_ROOT / "scripts" / "check_module_size.py"


def module_size(folder: Path, limit: int) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(CHECK_MODULE_SIZE), "--max", str(limit), str(folder)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_module_size_names_each_module_over_the_limit_and_fails(tmp_path: Path) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "short.py").write_text("x = 1\n" * 5)
    (tmp_path / "nested" / "long.py").write_text("x = 1\n" * 6)
    result = module_size(tmp_path, 5)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [f"{tmp_path / 'nested' / 'long.py'}: 6 lines (at most 5)"]


def test_module_size_passes_silently_when_every_module_fits(tmp_path: Path) -> None:
    (tmp_path / "short.py").write_text("x = 1\n" * 5)
    result = module_size(tmp_path, 5)
    assert (result.returncode, result.stdout) == (0, "")


def repeated_code(folder: Path) -> subprocess.CompletedProcess[str]:
    """What `make duplicates` runs (pylint with pyproject.toml's settings), on `folder`."""
    pylint = Path(sys.executable).parent / "pylint"
    command = [str(pylint), "--rcfile", str(REPO_ROOT / "pyproject.toml"), str(folder)]
    return subprocess.run(command, capture_output=True, text=True, check=False, cwd=folder)


def shared_lines(count: int) -> str:
    return "".join(f"    total = total * {n} + len(items) - {n}\n" for n in range(count))


def test_repeated_code_fails_on_six_lines_alike_and_passes_five(tmp_path: Path) -> None:
    for lines, verdict in ((6, 8), (5, 0)):  # pylint's exit code 8: a refactor message
        folder = tmp_path / f"shared_{lines}"
        folder.mkdir()
        for n, name in enumerate(("first", "second")):  # alike only in the shared lines
            body = f"def {name}(items):\n    total = {n}\n{shared_lines(lines)}    return -total\n"
            (folder / f"{name}.py").write_text(body.replace("-total", f"total + {n}"))
        result = repeated_code(folder)
        assert result.returncode == verdict, result.stdout + result.stderr
        assert ("duplicate-code" in result.stdout) == bool(verdict), result.stdout
