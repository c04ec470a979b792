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
