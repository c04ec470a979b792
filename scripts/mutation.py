"""Mutation testing of one or more modules against chosen tests, with mutmut.

Copies the working tree (tracked and untracked, not ignored) into a scratch folder, writes a
``[tool.mutmut]`` section that mutates only the given modules and runs only the given tests,
runs mutmut there and prints the kill rate and every surviving mutant as a diff. The checkout
itself is never touched. Mutation runs are slow and stay out of CI; see docs/contributing.md.

    python scripts/mutation.py src/smspolicy/keywords.py --tests tests/test_keywords.py

Exit status 1 when the kill rate is under ``--min-rate`` (0.9 by default).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _files() -> list[str]:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.decode()
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _copy(target: Path) -> None:
    for name in _files():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, destination)


def _toml_list(values: list[str]) -> str:
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def _configure(target: Path, modules: list[str], tests: list[str]) -> None:
    pyproject = target / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    text += (
        "\n[tool.mutmut]\n"
        'source_paths = ["src/smspolicy"]\n'
        f"only_mutate = {_toml_list(modules)}\n"
        f"pytest_add_cli_args_test_selection = {_toml_list(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider", "-q", "-x"]\n'
    )
    pyproject.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", help="source files to mutate")
    parser.add_argument("--tests", nargs="+", required=True, help="test files or node ids to run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="parallel mutants")
    parser.add_argument("--min-rate", type=float, default=0.9, help="fail under this kill rate")
    parser.add_argument("--keep", type=Path, help="run in this folder, kept")
    parser.add_argument("--quiet", action="store_true", help="print survivors' names, not diffs")
    args = parser.parse_args(argv)
    mutmut = Path(sys.executable).with_name("mutmut")
    if not mutmut.exists():
        parser.error("mutmut is not installed: pip install -e '.[mutation]'")
    for module in args.modules:
        if not (ROOT / module).is_file():
            parser.error(f"no such module: {module}")

    scratch = args.keep or Path(tempfile.mkdtemp(prefix="smspolicy-mutation-"))
    if args.keep and scratch.exists():
        shutil.rmtree(scratch)
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        _copy(scratch)
        _configure(scratch, args.modules, args.tests)
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run(
            [str(mutmut), "run", "--max-children", str(args.jobs)],
            cwd=scratch,
            env=env,
            stdout=subprocess.DEVNULL,
            check=False,
        )
        subprocess.run(
            [str(mutmut), "export-cicd-stats"], cwd=scratch, env=env, capture_output=True
        )
        stats = json.loads((scratch / "mutants" / "mutmut-cicd-stats.json").read_text())
        listed = subprocess.run(
            [str(mutmut), "results"], cwd=scratch, env=env, capture_output=True, text=True
        ).stdout
        survivors = [line.split(":")[0].strip() for line in listed.splitlines() if line.strip()]
        for name in survivors:
            if args.quiet:
                print(name)
                continue
            shown = subprocess.run(
                [str(mutmut), "show", name], cwd=scratch, env=env, capture_output=True, text=True
            )
            print(shown.stdout)
        total = stats["total"] - stats.get("skipped", 0)
        killed = stats["killed"] + stats.get("timeout", 0) + stats.get("segfault", 0)
        rate = killed / total if total else 1.0
        print(
            f"{', '.join(args.modules)}: {killed} of {total} mutants killed ({rate:.1%}); "
            f"survived {stats['survived']}, no tests {stats.get('no_tests', 0)}, "
            f"suspicious {stats.get('suspicious', 0)}"
        )
        return 0 if rate >= args.min_rate else 1
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
