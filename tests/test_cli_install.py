"""The docs' install commands work as written: from a clone of the repository, and from its git
URL (here a local repository's), in a fresh virtual environment."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GIT_URL = "https://git.example.com/smspolicy.git"


def install_lines() -> list[tuple[str, str]]:
    """Every `pip install` line of the docs' sh blocks, with the page it is on."""
    found = []
    for path in sorted((ROOT / "docs").glob("*.md")):
        for block in re.findall(r"```sh\n(.*?)\n```", path.read_text(), re.S):
            found += [(path.name, line.strip()) for line in block.splitlines()]
    return [(page, line) for page, line in found if line.startswith("pip install")]


def test_docs_install_from_a_clone_or_a_git_url_with_known_extras() -> None:
    """Each docs install line installs from the clone (`-e .`) or the git URL, never the
    unpublished name alone, and names only extras the project declares."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    lines = install_lines()
    assert {page for page, _ in lines} >= {"preflight.md", "tutorial.md"}
    for page, line in lines:
        match = re.fullmatch(
            r"pip install (?:-e '?\.(?:\[(\w+)\])?'?|'smspolicy(?:\[(\w+)\])? @ git\+(\S+)')", line
        )
        assert match, (page, line)
        extra = match[1] or match[2]
        assert extra is None or extra in extras, (page, line)
        assert match[3] in (None, GIT_URL), (page, line)


def _project_copy(folder: Path) -> Path:
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    copy = folder / "smspolicy"
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy / name)
    return copy


def test_docs_install_commands_work(tmp_path: Path) -> None:
    """preflight.md's two install commands, run as written in a fresh virtual environment (the
    git URL pointing at a local repository), give a working `smspolicy` command."""
    copy = _project_copy(tmp_path)
    git = [
        "git",
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "init.defaultBranch=main",
    ]
    subprocess.run([*git, "init", "-q"], cwd=copy, check=True)
    subprocess.run([*git, "add", "-A"], cwd=copy, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=copy, check=True)
    commands = [line for page, line in install_lines() if page == "preflight.md"]
    assert len(commands) == 2
    for index, command in enumerate(commands):
        venv = tmp_path / f"venv{index}"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        scripts = venv / "bin"
        # pip reads a file URL with an empty host as a path: name the host.
        command = command.replace(GIT_URL, f"file://localhost{copy}")
        done = subprocess.run(
            ["bash", "-c", f"{scripts}/{command}"],
            cwd=copy,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr[-2000:])
        version = subprocess.run(
            [str(scripts / "smspolicy"), "--version"], capture_output=True, text=True, check=True
        )
        assert re.fullmatch(r"smspolicy \S+\n", version.stdout)
