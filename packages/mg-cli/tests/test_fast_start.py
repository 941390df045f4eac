"""`mg --help` and `mg list` answer without importing torch or transformers."""

from __future__ import annotations

import subprocess
import sys

from mg.core.registry import plugins


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    code = (
        "import sys\nfrom mg.cli.main import main\nstatus = main(sys.argv[1:])\n"
        "heavy = sorted(m for m in ('torch', 'transformers', 'lightning') if m in sys.modules)\n"
        "print('HEAVY', heavy)\nsys.exit(status)"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_help_imports_nothing_heavy() -> None:
    result = _run("--help")
    assert result.returncode == 0
    assert "usage: mg <command>" in result.stdout and "HEAVY []" in result.stdout


def test_list_shows_every_kind_with_package_and_summary_without_torch() -> None:
    result = _run("list")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for kind in ("backbones", "adapters", "tasks", "data"):
        assert f"\n{kind} (" in "\n" + out
    assert "LinearCLSAdapter" in out and "[mg-adapters 0.1.0]" in out
    assert "SequenceRegression" in out and "OneHotDNA" in out and "SequenceData" in out
    assert "HEAVY []" in out


def test_list_one_kind() -> None:
    result = _run("list", "tasks")
    assert result.returncode == 0
    registered = len(plugins("tasks"))  # every installed task, counted by the registry
    assert f"tasks ({registered})" in result.stdout and "adapters (" not in result.stdout
    for task in ("ConditionalMLM", "VariantLikelihoodRatio", "FusionRegression"):
        assert task in result.stdout


def test_unknown_command_exits_2_with_the_commands() -> None:
    result = _run("fitt")
    assert result.returncode == 2
    assert "unknown command 'fitt'" in result.stderr and "fit, validate" in result.stderr


def test_version_lists_every_distribution() -> None:
    result = _run("--version")
    for name in ("mg-core", "mg-adapters", "mg-backbones", "mg-tasks", "mg-cli"):
        assert f"{name} 0.1.0" in result.stdout
