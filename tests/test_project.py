"""Project hygiene: README commands and CI stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.*?)\n```", text, re.S)


def test_ci_runs_readme_test_command() -> None:
    """.ci/run calls README's test command verbatim."""
    commands = readme_commands()
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text().splitlines()


def test_readme_shows_at_most_two_shell_commands() -> None:
    """README shows no more than the two set-up commands."""
    assert 1 <= len(readme_commands()) <= 2


def test_every_template_is_translated() -> None:
    """Every registered reason template and program text has a Spanish and French entry."""
    from smspolicy import i18n, jurisdictions, programs

    assert jurisdictions.PACKS  # importing every rule module registers its templates

    texts = [
        programs.HELP,
        programs.STOP,
        programs.WELCOME,
        programs.REQUEST,
        programs.REMINDER,
        programs.GENERIC_HELP,
        programs.GENERIC_STOP,
        programs.GENERIC_WELCOME,
    ]
    import smspolicy.rules._consent as consent_rule

    texts += list(consent_rule._MESSAGES.values())
    texts += list(i18n.REASON_TEMPLATES.values())
    for lang in ("es", "fr"):
        catalog = i18n._catalog(lang)
        missing = [t for t in texts if t not in catalog]
        assert not missing, (lang, missing)


def _blocks(language: str) -> list[tuple[Path, str]]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        found += [
            (path, b) for b in re.findall(rf"```{language}\n(.*?)\n```", path.read_text(), re.S)
        ]
    return found


def test_docs_toml_examples_load(tmp_path: Path) -> None:
    """Every TOML block in the docs is a policy file that loads."""
    from smspolicy.config import load_config

    blocks = _blocks("toml")
    assert blocks
    for index, (path, block) in enumerate(blocks):
        policy = tmp_path / f"block{index}.toml"
        policy.write_text(block)
        assert load_config(policy).policy, path


def test_docs_shell_commands_run(tmp_path: Path) -> None:
    """Every `smspolicy` command in the docs' shell blocks runs and exits 0 (install lines are
    the one exception: they fetch the published package)."""
    import os
    import shutil
    import subprocess
    import sys

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    commands = []
    for path, block in _blocks("sh"):
        if path.name == "README.md":
            continue  # README's commands run in CI and in tests/test_cli.py
        if path.name == "contributing.md":
            continue  # a contributor's checkout, test and mutation commands, not smspolicy's
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line.startswith("smspolicy "):
                commands.append(line)
            else:
                assert line.startswith("pip install"), (path, line)
    assert commands
    scripts = Path(sys.executable).parent
    env = {
        **os.environ,
        "PATH": f"{scripts}{os.pathsep}{os.environ['PATH']}",
        "SMSPOLICY_DB": str(tmp_path / "default.sqlite3"),
    }
    for command in commands:
        done = subprocess.run(
            command,
            shell=True,
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, (command, done.stderr[-1500:])
