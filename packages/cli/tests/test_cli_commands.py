"""The CLI's commands through typer's test runner: exit codes, one-line errors, output."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from cli_workflows import AGENT, COUNTING, MISSING_RUNNER, PLAIN, write
from typer.testing import CliRunner

from ageflow.cli.app import app, settings

runner = CliRunner()


def invoke(*args: str, input: str | None = None):
    return runner.invoke(app, list(args), input=input)


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settings, "debug", False)


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line, got: {stderr!r}"
    assert "Traceback" not in stderr
    return lines[0]


# --- program ------------------------------------------------------------------------------


def test_version_comes_from_the_installed_metadata() -> None:
    # Defect D37: the original printed a hard-coded 0.1.0 whatever was installed.
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"ageflow {version('ageflow-cli')}"


def test_unknown_option_is_a_usage_error_on_one_line(tmp_path: Path) -> None:
    result = invoke("run", str(write(tmp_path, "wf.py", PLAIN)), "--bogus")
    assert result.exit_code == 2
    assert one_error_line(result.stderr) == "ageflow run: No such option: --bogus"


def test_missing_argument_is_a_usage_error() -> None:
    result = invoke("validate")
    assert result.exit_code == 2
    assert "Missing argument 'WORKFLOW'" in one_error_line(result.stderr)


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    result = invoke("--debug", "validate", str(tmp_path / "absent.py"))
    assert result.exit_code == 1
    assert isinstance(result.exception, Exception)
    assert "no such file" in str(result.exception)


# --- loading ------------------------------------------------------------------------------


def test_a_missing_file_exits_1_with_one_line(tmp_path: Path) -> None:
    result = invoke("validate", str(tmp_path / "absent.py"))
    assert result.exit_code == 1
    line = one_error_line(result.stderr)
    assert line.startswith("ageflow: Cannot import workflow file") and "no such file" in line


def test_an_import_error_names_the_exception(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.py", "import nonexistent_module_xyz\n")
    result = invoke("dry-run", str(path))
    assert result.exit_code == 1
    assert "ModuleNotFoundError" in one_error_line(result.stderr)


def test_a_file_without_workflow_is_refused(tmp_path: Path) -> None:
    result = invoke("run", str(write(tmp_path, "empty.py", "x = 1\n")))
    assert result.exit_code == 1
    assert 'does not export "workflow"' in one_error_line(result.stderr)


def test_a_none_workflow_is_refused_with_its_type(tmp_path: Path) -> None:
    # The original's module check let `tasks: null` through to a generic failure (D43);
    # here anything that is not a workflow is named at load time.
    result = invoke("validate", str(write(tmp_path, "none.py", "workflow = None\n")))
    assert result.exit_code == 1
    assert "found NoneType" in one_error_line(result.stderr)


def test_module_attribute_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, "cli_spec_module.py", PLAIN + "\nother = workflow\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke("run", "cli_spec_module:other", "--input", '{"text": "hi"}')
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"upper": {"text": "HI"}}


# --- validate -----------------------------------------------------------------------------


def test_validate_a_valid_workflow(tmp_path: Path) -> None:
    result = invoke("validate", str(write(tmp_path, "wf.py", COUNTING)))
    assert result.exit_code == 0
    assert "✓ Workflow is valid" in result.stdout


def test_validate_reports_a_missing_runner(tmp_path: Path) -> None:
    result = invoke("validate", str(write(tmp_path, "wf.py", MISSING_RUNNER)))
    assert result.exit_code == 1
    assert "no-such-runner-cli" in result.stdout
    assert one_error_line(result.stderr) == "ageflow: validation failed (1 error(s))"


def test_validate_does_not_look_up_registered_http_runners_on_path(tmp_path: Path) -> None:
    # Defect D38: the original reported HTTP runners ("api") as missing executables.
    result = invoke("validate", str(write(tmp_path, "wf.py", AGENT)))
    assert result.exit_code == 0, result.stdout
    assert "✓ Workflow is valid" in result.stdout


# --- dry-run ------------------------------------------------------------------------------


def test_dry_run_shows_function_tasks_and_loops(tmp_path: Path) -> None:
    # Defect D39: function tasks crashed the original's dry-run.
    result = invoke("dry-run", str(write(tmp_path, "wf.py", COUNTING)))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "Dry-run: counting" in out
    assert "Execution order: 4 batch(es)" in out
    assert "Batch 1 [sequential]: clean" in out
    assert "── Function: clean" in out
    assert "── Loop: trim (max: 5 iterations) (depends on: wait)" in out
    assert "  ── Function: shorten" in out  # the body, indented under the loop
    assert '"text": "<text>"' in out and '"delay": 0' in out


def test_dry_run_renders_prompts_on_a_placeholder_input(tmp_path: Path) -> None:
    result = invoke("dry-run", str(write(tmp_path, "wf.py", AGENT)))
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "── Task: ask [api]" in out
    assert "Answer <question> about <tags[0]>" in out
    assert "[prompt could not be rendered — depends on runtime context]" in out
    assert '"score": 0' in out


def test_dry_run_of_nothing_loadable_exits_1(tmp_path: Path) -> None:
    result = invoke("dry-run", str(tmp_path / "nope.py"))
    assert result.exit_code == 1


# --- init ---------------------------------------------------------------------------------


def test_init_creates_a_project_whose_tests_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("init", "my-project")
    assert result.exit_code == 0, result.stderr
    root = tmp_path / "my-project"
    assert {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} == {
        "workflow.py",
        "tests/test_workflow.py",
        "pyproject.toml",
    }
    assert "✓ my-project/workflow.py" in result.stdout
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "1 passed" in tests.stdout


def test_init_refuses_bad_names_and_existing_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    bad = invoke("init", "no spaces")
    assert bad.exit_code == 1
    assert 'Invalid project name "no spaces"' in one_error_line(bad.stderr)
    (tmp_path / "taken").mkdir()
    taken = invoke("init", "taken")
    assert taken.exit_code == 1
    assert 'Directory "taken" already exists' in one_error_line(taken.stderr)
    assert list((tmp_path / "taken").iterdir()) == []


# --- run ----------------------------------------------------------------------------------


def test_run_prints_the_outputs_as_json(tmp_path: Path) -> None:
    result = invoke("run", str(write(tmp_path, "wf.py", PLAIN)), "--input", '{"text": "hi"}')
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"upper": {"text": "HI"}}
    assert "✓ upper" in result.stderr  # the view goes to stderr, stdout keeps the result
    assert "Workflow complete" in result.stderr


def test_run_reads_input_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "in.json").write_text('{"text": "file"}', encoding="utf-8")
    path = write(tmp_path, "wf.py", PLAIN)
    result = invoke("run", str(path), "--input", f"@{tmp_path / 'in.json'}")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout) == {"upper": {"text": "FILE"}}


def test_run_json_streams_events_as_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.py", PLAIN)
    result = invoke("run", str(path), "--json", "--input", '{"text": "hi"}')
    assert result.exit_code == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [e["type"] for e in events] == [
        "workflow:start",
        "task:start",
        "task:complete",
        "workflow:complete",
    ]
    assert events[-1]["result"]["outputs"] == {"upper": {"text": "HI"}}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "{bad"], "--input must be JSON"),
        (["--input", "@/no/such/file.json"], "--input @/no/such/file.json: cannot read"),
        (["--resume", "abc"], "--resume requires --job-db"),
        (["--resume", "abc", "--job-db", "x.db", "--input", "{}"], "--input cannot be used"),
    ],
)
def test_run_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = invoke("run", str(write(tmp_path, "wf.py", PLAIN)), *args)
    assert result.exit_code == 2
    assert message in one_error_line(result.stderr)


def test_a_failing_run_exits_1_with_its_error(tmp_path: Path) -> None:
    result = invoke("run", str(write(tmp_path, "wf.py", PLAIN)), "--input", '{"text": "boom"}')
    assert result.exit_code == 1
    line = one_error_line(result.stderr.splitlines()[-1])
    assert line.startswith("ageflow: run ") and "failed" in line and "cannot shout boom" in line
    assert result.stdout == ""


def test_a_checkpoint_without_a_terminal_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.py", COUNTING)
    result = invoke("run", str(path), "--input", '{"text": "abcdef"}')
    assert result.exit_code == 1
    assert "rejected at its checkpoint" in result.stderr.splitlines()[-1]
    assert "⏸ shout  waiting  Shout it?" in result.stderr
    assert "⟳ trim  looping  iteration" in result.stderr


def test_resume_of_an_unknown_run_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.py", PLAIN)
    db = tmp_path / "jobs.sqlite"
    first = invoke("run", str(path), "--job-db", str(db), "--input", '{"text": "a"}')
    assert first.exit_code == 0, first.stderr
    result = invoke("run", str(path), "--job-db", str(db), "--resume", "nope")
    assert result.exit_code == 1
    assert "--resume nope: no such run" in one_error_line(result.stderr)


def test_resume_of_a_finished_run_prints_its_result(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.py", PLAIN)
    db = tmp_path / "jobs.sqlite"
    first = invoke("run", str(path), "--job-db", str(db), "--input", '{"text": "a"}')
    run_id = first.stderr.split("run ", 1)[1].split()[0]
    again = invoke("run", str(path), "--job-db", str(db), "--resume", run_id)
    assert again.exit_code == 0, again.stderr
    assert json.loads(again.stdout) == {"upper": {"text": "A"}}


def test_ctrl_c_exits_130_without_a_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, "wf.py", "raise KeyboardInterrupt\n")
    result = invoke("validate", str(path))
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr
