"""Fake ``claude`` and ``codex`` executables for tests that go through a real subprocess.

Two halves live here:

- the *program* (``main``): run by small wrapper scripts named ``claude`` and ``codex``;
  it tells which CLI it plays from the basename of ``argv[0]``, logs the call, and answers
  as a JSON *script* file says. It uses the standard library only and the wrappers load
  this file by path, so a fake call does not import the rest of ageflow (or pydantic);
- the *test side*: ``FakeCli`` installs the wrappers and writes the script, the builders
  (``claude_json``, ``claude_stream``, ``codex_exec`` ...) produce every output shape of
  the real CLIs, and ``FakeCli.calls()`` reads back what each call received.

Example::

    fake = FakeCli.install(tmp_path / "fake-cli")        # or the ``fake_cli`` fixture
    fake.respond_claude(text='{"a":1}', session_id="s1", tokens=(10, 20))
    # ... put fake.bin_dir first on PATH, run the code under test ...
    assert fake.calls("claude")[0].flag_value("--model") == "sonnet"
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import signal
import stat
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

CONFIG_ENV = "AGEFLOW_FAKE_CLI_CONFIG"
"""Environment variable naming the script file; it overrides the path baked into the wrappers."""

DEFAULT_PROGRAMS = ("claude", "codex")
DEFAULT_SESSION_ID = "fake-session"
DEFAULT_THREAD_ID = "fake-thread"
DEFAULT_MODEL = "claude-sonnet-4-5"
DEFAULT_VERSIONS = {"claude": "2.0.0 (Claude Code)", "codex": "codex-cli 0.59.0"}
SYSTEM_PROMPT_SEPARATOR = "\n\n---\n\n"
"""How the CLI runners join the system prompt and the user prompt into the last argv element."""

EXIT_NO_SCRIPT = 127
"""Exit code of the program when it has no script for the name it was called by."""

RouteTarget = Literal["prompt", "user_prompt", "argv"]


def _compact(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- the program --------------------------------------------------------------------------


def _decode_stream(value: object) -> bytes:
    """A script's stdout/stderr: text, or ``{"b64": ...}`` for bytes that are not UTF-8."""
    if isinstance(value, dict):
        return base64.b64decode(value["b64"])
    return str(value or "").encode()


def _stdin_kind() -> str:
    """What fd 0 is, so runner tests can check that a CLI never gets an interactive stdin."""
    try:
        info = os.fstat(0)
    except OSError:
        return "closed"
    if stat.S_ISCHR(info.st_mode):
        if os.isatty(0):
            return "tty"
        with contextlib.suppress(OSError):
            if info.st_rdev == os.stat(os.devnull).st_rdev:
                return "devnull"
        return "char"
    if stat.S_ISFIFO(info.st_mode):
        return "pipe"
    if stat.S_ISREG(info.st_mode):
        return "file"
    if stat.S_ISSOCK(info.st_mode):
        return "socket"
    return "other"


def _route_subject(target: str, args: Sequence[str]) -> str:
    prompt = args[-1] if args else ""
    if target == "argv":
        return " ".join(args)
    if target == "user_prompt":
        return prompt.rsplit(SYSTEM_PROMPT_SEPARATOR, 1)[-1]
    return prompt


def _pick_response(
    script: Mapping[str, Any], args: Sequence[str], call_index: int
) -> dict[str, Any]:
    for route in script.get("routes", []):
        if re.search(route["pattern"], _route_subject(route["on"], args), re.IGNORECASE):
            return dict(route["response"])
    responses: list[dict[str, Any]] = script.get("responses", [])
    if not responses:
        return {}
    return dict(responses[min(call_index, len(responses) - 1)])


def _log_call(log_path: str, record: dict[str, Any]) -> int:
    """Append the call under an exclusive lock and return its index among runs of its program.

    The lock makes the index exact when a workflow runs several fakes at once.
    """
    with open(log_path, "a+b") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        try:
            log.seek(0)
            earlier = 0
            for line in log:
                previous = json.loads(line)
                if previous["program"] == record["program"] and previous["kind"] == "run":
                    earlier += 1
            record["call_index"] = earlier if record["kind"] == "run" else None
            log.seek(0, os.SEEK_END)
            log.write((_compact(record) + "\n").encode())
            log.flush()
        finally:
            fcntl.flock(log, fcntl.LOCK_UN)
    return earlier


def _act(response: Mapping[str, Any]) -> int:
    if response.get("ignore_sigterm"):
        # Installed before any output, so a test that has seen the output knows it holds.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.stderr.buffer.write(_decode_stream(response.get("stderr")))
    sys.stderr.buffer.flush()
    sys.stdout.buffer.write(_decode_stream(response.get("stdout")))
    sys.stdout.buffer.flush()
    if response.get("hang"):
        while True:  # until killed
            time.sleep(3600)
    exit_code = int(response.get("exit_code", 0))
    if exit_code < 0:
        # A negative code plays a death by that signal, as Python reports it.
        os.kill(os.getpid(), -exit_code)
        while True:
            time.sleep(3600)
    return exit_code


def main(argv: Sequence[str], default_config: str | None = None) -> int:
    """Run one fake CLI call; ``argv[0]``'s basename picks the program's script."""
    program = os.path.basename(argv[0])
    config_path = os.environ.get(CONFIG_ENV) or default_config
    if not config_path or not os.path.exists(config_path):
        sys.stderr.write(f"fake-cli: no script file (set {CONFIG_ENV})\n")
        return EXIT_NO_SCRIPT
    with open(config_path, encoding="utf-8") as fh:
        config = json.load(fh)
    script = config["programs"].get(program)
    if script is None:
        sys.stderr.write(f"fake-cli: no script for program {program!r}\n")
        return EXIT_NO_SCRIPT
    args = list(argv[1:])
    kind = "version" if args[:1] == ["--version"] else "run"
    stdin_kind = _stdin_kind()
    stdin = None
    if config.get("record_stdin") and stdin_kind != "closed":
        stdin = sys.stdin.buffer.read().decode(errors="replace")
    record: dict[str, Any] = {
        "program": program,
        "kind": kind,
        "argv": list(argv),
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "env": {key: os.environ.get(key) for key in config.get("env_keys", [])},
        "stdin_kind": stdin_kind,
        "stdin": stdin,
    }
    call_index = _log_call(config["log"], record)
    if kind == "version":
        return _act(script["version"])
    return _act(_pick_response(script, args, call_index))


# --- the test side: responses and builders -------------------------------------------------


def _encode_stream(value: str | bytes) -> str | dict[str, str]:
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    return value


@dataclass(frozen=True)
class FakeResponse:
    """What one fake call does: write ``stderr`` then ``stdout``, then exit or hang.

    ``exit_code`` below zero makes the process kill itself with that signal. ``hang``
    keeps it alive after the output until it is killed; with ``ignore_sigterm`` it also
    survives SIGTERM, for tests of kill escalation.
    """

    stdout: str | bytes = ""
    stderr: str | bytes = ""
    exit_code: int = 0
    hang: bool = False
    ignore_sigterm: bool = False

    def to_wire(self) -> dict[str, Any]:
        return {
            "stdout": _encode_stream(self.stdout),
            "stderr": _encode_stream(self.stderr),
            "exit_code": self.exit_code,
            "hang": self.hang,
            "ignore_sigterm": self.ignore_sigterm,
        }


def jsonl(records: Iterable[Mapping[str, Any]]) -> str:
    """Records as JSON lines (compact, one per line, trailing newline)."""
    return "".join(_compact(record) + "\n" for record in records)


def raw_text(text: str) -> FakeResponse:
    """Plain stdout that is not JSON (an old CLI, or ``--output-format text``)."""
    return FakeResponse(stdout=text)


def hitl_prompt(question: str = "Do you want to proceed? [y/n]") -> FakeResponse:
    """A CLI stopping to ask for permission: a bare prompt line, no result, exit 0."""
    return FakeResponse(stdout=question)


def failure(exit_code: int = 1, stderr: str | bytes = "", stdout: str | bytes = "") -> FakeResponse:
    """A CLI that fails: non-zero exit with a message on stderr."""
    return FakeResponse(stdout=stdout, stderr=stderr, exit_code=exit_code)


def hang(stdout: str | bytes = "", *, ignore_sigterm: bool = False) -> FakeResponse:
    """A CLI that never finishes; it writes ``stdout`` first, which tests can wait for."""
    return FakeResponse(stdout=stdout, hang=True, ignore_sigterm=ignore_sigterm)


def claude_result(
    text: str,
    *,
    session_id: str | None = DEFAULT_SESSION_ID,
    tokens: tuple[int, int] = (0, 0),
    is_error: bool = False,
    subtype: str = "success",
    num_turns: int = 1,
    total_cost_usd: float = 0.0,
) -> dict[str, Any]:
    """The final ``{"type": "result", ...}`` object of ``claude --print``.

    ``session_id=None`` leaves the key out (a shape the runner must tolerate).
    """
    result: dict[str, Any] = {
        "type": "result",
        "subtype": subtype,
        "is_error": is_error,
        "duration_ms": 1,
        "duration_api_ms": 1,
        "num_turns": num_turns,
        "result": text,
    }
    if session_id is not None:
        result["session_id"] = session_id
    result["total_cost_usd"] = total_cost_usd
    result["usage"] = {
        "input_tokens": tokens[0],
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": tokens[1],
    }
    return result


def claude_init(
    *,
    session_id: str = DEFAULT_SESSION_ID,
    model: str = DEFAULT_MODEL,
    tools: Sequence[str] = (),
    mcp_servers: Sequence[Mapping[str, str]] = (),
) -> dict[str, Any]:
    """The ``{"type": "system", "subtype": "init"}`` line that opens a stream."""
    return {
        "type": "system",
        "subtype": "init",
        "session_id": session_id,
        "model": model,
        "tools": list(tools),
        "mcp_servers": [dict(server) for server in mcp_servers],
    }


def claude_assistant(
    text: str,
    *,
    session_id: str = DEFAULT_SESSION_ID,
    model: str = DEFAULT_MODEL,
    tokens: tuple[int, int] = (0, 0),
) -> dict[str, Any]:
    """An ``{"type": "assistant"}`` stream line carrying one text block."""
    return {
        "type": "assistant",
        "message": {
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": tokens[0], "output_tokens": tokens[1]},
        },
        "session_id": session_id,
    }


def claude_json(
    text: str,
    *,
    session_id: str | None = DEFAULT_SESSION_ID,
    tokens: tuple[int, int] = (0, 0),
    is_error: bool = False,
    exit_code: int = 0,
) -> FakeResponse:
    """``claude --output-format json --print``: one result object on one line."""
    result = claude_result(text, session_id=session_id, tokens=tokens, is_error=is_error)
    return FakeResponse(stdout=jsonl([result]), exit_code=exit_code)


def claude_stream(
    text: str,
    *,
    session_id: str = DEFAULT_SESSION_ID,
    tokens: tuple[int, int] = (0, 0),
    is_error: bool = False,
    model: str = DEFAULT_MODEL,
) -> FakeResponse:
    """``--output-format stream-json``: init, assistant and result lines."""
    return FakeResponse(
        stdout=jsonl(
            [
                claude_init(session_id=session_id, model=model),
                claude_assistant(text, session_id=session_id, model=model, tokens=tokens),
                claude_result(text, session_id=session_id, tokens=tokens, is_error=is_error),
            ]
        )
    )


def claude_rate_limited(reset_at: int = 1_750_000_000) -> FakeResponse:
    """Claude refusing for a usage limit: an ``is_error`` result, the API error on stderr, exit 1.

    The exact wording of the real CLI varies by version; runners must not depend on it.
    """
    message = f"Claude AI usage limit reached|{reset_at}"
    return FakeResponse(
        stdout=jsonl([claude_result(message, is_error=True)]),
        stderr=(
            'API Error: 429 {"type":"error","error":{"type":"rate_limit_error",'
            '"message":"Number of request tokens has exceeded your rate limit"}}\n'
        ),
        exit_code=1,
    )


def codex_item(item_type: str, text: str, *, item_id: str = "item_0") -> dict[str, Any]:
    """An ``item.completed`` event (``agent_message``, ``reasoning``, ``tool_call`` ...)."""
    return {"type": "item.completed", "item": {"id": item_id, "type": item_type, "text": text}}


def codex_events(
    text: str | None,
    *,
    thread_id: str | None = DEFAULT_THREAD_ID,
    tokens: tuple[int, int] = (0, 0),
    cached_tokens: int = 0,
    items: Sequence[Mapping[str, Any]] = (),
) -> list[dict[str, Any]]:
    """The ``codex exec --json`` events of one turn.

    ``thread.started`` (left out when ``thread_id`` is None), ``turn.started``, the extra
    ``items``, the final ``agent_message`` (left out when ``text`` is None), ``turn.completed``.
    """
    events: list[dict[str, Any]] = []
    if thread_id is not None:
        events.append({"type": "thread.started", "thread_id": thread_id})
    events.append({"type": "turn.started"})
    events.extend(dict(item) for item in items)
    if text is not None:
        events.append(codex_item("agent_message", text, item_id=f"item_{len(items)}"))
    events.append(
        {
            "type": "turn.completed",
            "usage": {
                "input_tokens": tokens[0],
                "cached_input_tokens": cached_tokens,
                "output_tokens": tokens[1],
            },
        }
    )
    return events


def codex_exec(
    text: str,
    *,
    thread_id: str | None = DEFAULT_THREAD_ID,
    tokens: tuple[int, int] = (0, 0),
    items: Sequence[Mapping[str, Any]] = (),
) -> FakeResponse:
    """A successful ``codex exec --json`` turn answering ``text``."""
    return FakeResponse(
        stdout=jsonl(codex_events(text, thread_id=thread_id, tokens=tokens, items=items))
    )


def codex_error(
    message: str, *, thread_id: str = DEFAULT_THREAD_ID, exit_code: int = 1
) -> FakeResponse:
    """A failed turn: ``error`` and ``turn.failed`` events, the message on stderr, non-zero exit."""
    events: list[dict[str, Any]] = [
        {"type": "thread.started", "thread_id": thread_id},
        {"type": "turn.started"},
        {"type": "error", "message": message},
        {"type": "turn.failed", "error": {"message": message}},
    ]
    return FakeResponse(stdout=jsonl(events), stderr=f"Error: {message}\n", exit_code=exit_code)


def _default_response(program: str) -> FakeResponse:
    if program == "claude":
        return claude_json('{"result":"ok"}')
    if program == "codex":
        return codex_exec('{"result":"ok"}')
    return FakeResponse()


# --- the test side: installing and reading back --------------------------------------------


@dataclass(frozen=True)
class FakeCall:
    """One logged call of a fake executable."""

    program: str
    kind: Literal["run", "version"]
    call_index: int | None  # position among this program's "run" calls; None for --version
    argv: tuple[str, ...]
    pid: int
    cwd: str
    env: Mapping[str, str | None] = field(default_factory=dict)
    stdin_kind: str = "closed"
    stdin: str | None = None

    @property
    def args(self) -> tuple[str, ...]:
        return self.argv[1:]

    @property
    def prompt(self) -> str | None:
        """The last argv element, where the CLI runners put the prompt."""
        return self.argv[-1] if self.kind == "run" and len(self.argv) > 1 else None

    def flag_value(self, flag: str) -> str | None:
        """The element after the first ``flag`` in the arguments, or None."""
        args = self.args
        for index, arg in enumerate(args[:-1]):
            if arg == flag:
                return args[index + 1]
        return None

    def flag_values(self, flag: str) -> list[str]:
        """The element after every occurrence of ``flag`` (e.g. codex's repeated ``-c``)."""
        args = self.args
        return [args[i + 1] for i, arg in enumerate(args[:-1]) if arg == flag]


_WRAPPER = """#!{python}
# Fake `{name}` installed by ageflow.testing.fake_cli: it runs {program}
# and follows the script in ${config_env} (default: {config}).
import importlib.util
import sys

_spec = importlib.util.spec_from_file_location("_ageflow_fake_cli", {program!r})
_module = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _module
_spec.loader.exec_module(_module)
raise SystemExit(_module.main(sys.argv, default_config={config!r}))
"""


@dataclass
class _ProgramScript:
    version: FakeResponse
    responses: list[FakeResponse]
    routes: list[tuple[str, RouteTarget, FakeResponse]] = field(default_factory=list)

    def to_wire(self) -> dict[str, Any]:
        return {
            "version": self.version.to_wire(),
            "responses": [response.to_wire() for response in self.responses],
            "routes": [
                {"pattern": pattern, "on": on, "response": response.to_wire()}
                for pattern, on, response in self.routes
            ],
        }


class FakeCli:
    """Fake CLI executables in ``root/bin`` with their script and call log beside them.

    Every setter rewrites the script at once, so a change applies to the next call.
    Unless told otherwise, ``claude`` answers ``claude_json('{"result":"ok"}')`` and
    ``codex`` answers ``codex_exec('{"result":"ok"}')``.
    """

    def __init__(self, root: Path, programs: Sequence[str] = DEFAULT_PROGRAMS) -> None:
        self.root = root
        self.bin_dir = root / "bin"
        self.config_path = root / "script.json"
        self.log_path = root / "calls.jsonl"
        self._scripts = {
            name: _ProgramScript(
                version=FakeResponse(stdout=DEFAULT_VERSIONS.get(name, "0.0.0") + "\n"),
                responses=[_default_response(name)],
            )
            for name in programs
        }
        self._env_keys: list[str] = []
        self._record_stdin = False

    @classmethod
    def install(cls, root: Path, programs: Sequence[str] = DEFAULT_PROGRAMS) -> FakeCli:
        """Create ``root``, write the script and one executable wrapper per program."""
        fake = cls(root, programs)
        fake.bin_dir.mkdir(parents=True, exist_ok=True)
        fake.log_path.touch()
        fake._save()
        program_file = str(Path(__file__).resolve())
        for name in programs:
            wrapper = fake.bin_dir / name
            wrapper.write_text(
                _WRAPPER.format(
                    python=sys.executable,
                    name=name,
                    program=program_file,
                    config=str(fake.config_path),
                    config_env=CONFIG_ENV,
                )
            )
            wrapper.chmod(0o755)
        return fake

    # configuration

    def respond(self, program: str, *responses: FakeResponse) -> None:
        """Answer the next calls with ``responses`` in order; the last one repeats.

        The order counts every call of the program since install, so set it up first.
        """
        if not responses:
            raise ValueError("respond() needs at least one response")
        self._script(program).responses = list(responses)
        self._save()

    def respond_claude(
        self,
        text: str,
        *,
        session_id: str | None = DEFAULT_SESSION_ID,
        tokens: tuple[int, int] = (0, 0),
        is_error: bool = False,
        stream: bool = False,
    ) -> None:
        """Make every ``claude`` call answer ``text`` (one JSON result, or a stream)."""
        if stream:
            if session_id is None:
                raise ValueError("a stream always carries a session id")
            response = claude_stream(text, session_id=session_id, tokens=tokens, is_error=is_error)
        else:
            response = claude_json(text, session_id=session_id, tokens=tokens, is_error=is_error)
        self.respond("claude", response)

    def respond_codex(
        self,
        text: str,
        *,
        thread_id: str | None = DEFAULT_THREAD_ID,
        tokens: tuple[int, int] = (0, 0),
    ) -> None:
        """Make every ``codex`` call answer ``text`` in a full event stream."""
        self.respond("codex", codex_exec(text, thread_id=thread_id, tokens=tokens))

    def route(
        self, program: str, pattern: str, response: FakeResponse, *, on: RouteTarget = "prompt"
    ) -> None:
        """Answer calls whose ``on`` text matches ``pattern`` (regex, any case) with ``response``.

        Routes are tried in the order added and win over ``respond``. ``on`` is the whole
        prompt (last argv element), the ``user_prompt`` after the system prompt
        separator, or all ``argv`` arguments joined by spaces.
        """
        re.compile(pattern)
        self._script(program).routes.append((pattern, on, response))
        self._save()

    def set_version(self, program: str, version: str | FakeResponse) -> None:
        """What ``<program> --version`` prints (a string), or does (a response)."""
        if isinstance(version, str):
            version = FakeResponse(stdout=version + "\n")
        self._script(program).version = version
        self._save()

    def record_env(self, *keys: str) -> None:
        """Log the value (or None) of these environment variables on every call."""
        self._env_keys.extend(keys)
        self._save()

    def record_stdin(self, enabled: bool = True) -> None:
        """Read stdin to its end on every call and log it (off by default: it can block)."""
        self._record_stdin = enabled
        self._save()

    # reading back

    def calls(self, program: str | None = None, *, kind: str | None = "run") -> list[FakeCall]:
        """Logged calls in order; by default only real runs, not ``--version`` probes."""
        with self.log_path.open(encoding="utf-8") as log:
            # Shared lock: a fake appending right now never shows up as half a line.
            fcntl.flock(log, fcntl.LOCK_SH)
            text = log.read()
        calls = []
        for line in text.splitlines():
            record = json.loads(line)
            if program is not None and record["program"] != program:
                continue
            if kind is not None and record["kind"] != kind:
                continue
            calls.append(
                FakeCall(
                    program=record["program"],
                    kind=record["kind"],
                    call_index=record["call_index"],
                    argv=tuple(record["argv"]),
                    pid=record["pid"],
                    cwd=record["cwd"],
                    env=record["env"],
                    stdin_kind=record["stdin_kind"],
                    stdin=record["stdin"],
                )
            )
        return calls

    def env(self) -> dict[str, str]:
        """Variables that point a child process at this fake (for an explicit ``env=``)."""
        return {CONFIG_ENV: str(self.config_path)}

    def path_with_bin(self, path: str | None = None) -> str:
        """``path`` (default: the current PATH) with the fake's bin directory first."""
        current = os.environ.get("PATH", "") if path is None else path
        return os.pathsep.join(part for part in (str(self.bin_dir), current) if part)

    # internals

    def _script(self, program: str) -> _ProgramScript:
        try:
            return self._scripts[program]
        except KeyError:
            raise ValueError(f"no fake installed for {program!r}") from None

    def _save(self) -> None:
        config = {
            "log": str(self.log_path),
            "env_keys": self._env_keys,
            "record_stdin": self._record_stdin,
            "programs": {name: script.to_wire() for name, script in self._scripts.items()},
        }
        # Write then rename, so a fake starting meanwhile never reads half a file.
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(_compact(config), encoding="utf-8")
        tmp.replace(self.config_path)
