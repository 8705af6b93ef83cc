"""HITLManager: config precedence, permission filtering and checkpoint approval."""

from __future__ import annotations

import sys
import threading

import pytest
from pydantic import BaseModel

from ageflow.core import Checkpoint, HitlOff, HitlPermissions, InlineToolDef, WorkflowHooks
from ageflow.executor.errors import HitlNotInteractiveError
from ageflow.executor.hitl import HITLManager, PermissionResult


class NoArgs(BaseModel):
    pass


def inline(description: str) -> InlineToolDef:
    return InlineToolDef(description=description, parameters=NoArgs, execute=lambda args: None)


class FakeStdin:
    """A stand-in for sys.stdin: a terminal (or not) with queued lines."""

    def __init__(self, *, tty: bool, lines: list[str] | None = None) -> None:
        self.tty = tty
        self.lines = list(lines or [])
        self.read_threads: list[int] = []

    def isatty(self) -> bool:
        return self.tty

    def readline(self) -> str:
        self.read_threads.append(threading.get_ident())
        return self.lines.pop(0) if self.lines else ""


class ClosedStdin:
    def isatty(self) -> bool:
        raise ValueError("I/O operation on closed file")


@pytest.fixture
def no_tty(monkeypatch):
    stdin = FakeStdin(tty=False)
    monkeypatch.setattr(sys, "stdin", stdin)
    return stdin


# --- resolve_config ----------------------------------------------------------------------


def test_nothing_configured_is_off():
    assert HITLManager().resolve_config(None, None) == HitlOff()


def test_agent_config_applies_when_task_has_none():
    agent = Checkpoint("agent says")
    assert HITLManager().resolve_config(agent, None) is agent


def test_task_config_overrides_agent_config_whole():
    agent = HitlPermissions({"read": True})
    task = Checkpoint()
    assert HITLManager().resolve_config(agent, task) is task


def test_task_permissions_config_returned_as_is():
    task = HitlPermissions({"a": True})
    assert HITLManager.resolve_config(Checkpoint(), task) is task


def test_task_off_overrides_agent_checkpoint():
    assert HITLManager().resolve_config(Checkpoint(), HitlOff()) == HitlOff()


# --- apply_permissions -------------------------------------------------------------------


@pytest.mark.parametrize("config", [HitlOff(), Checkpoint("ok?")], ids=["off", "checkpoint"])
def test_off_and_checkpoint_leave_tools_unchanged(config):
    result = HITLManager().apply_permissions(["read", "write"], config)
    assert result == PermissionResult(
        filtered_tools=["read", "write"], permissions=None, enforcing=False
    )


def test_off_with_no_tools_stays_unrestricted():
    assert HITLManager().apply_permissions(None, HitlOff()) == PermissionResult(None, None, False)


def test_permissions_all_true_keep_every_tool():
    result = HITLManager().apply_permissions(["a", "b"], HitlPermissions({"a": True, "b": True}))
    assert result.filtered_tools == ["a", "b"]
    assert result.enforcing is True
    assert result.permissions == {"a": True, "b": True}


def test_false_entry_removes_that_tool():
    result = HITLManager().apply_permissions(
        ["read", "write", "exec"], HitlPermissions({"read": True, "write": False, "exec": True})
    )
    assert result.filtered_tools == ["read", "exec"]


def test_tool_absent_from_the_map_is_denied():
    result = HITLManager().apply_permissions(["read", "write"], HitlPermissions({"read": True}))
    assert result.filtered_tools == ["read"]


def test_only_exactly_true_allows():
    permissions = {"a": 1, "b": "yes", "c": True}
    result = HITLManager().apply_permissions(["a", "b", "c"], HitlPermissions(permissions))  # type: ignore[arg-type]
    assert result.filtered_tools == ["c"]


def test_permissions_with_no_agent_tools_is_deny_all():
    permissions = {"read": True}
    result = HITLManager().apply_permissions(None, HitlPermissions(permissions))
    assert result.filtered_tools == []
    assert result.enforcing is True
    assert result.permissions == {"read": True}
    assert result.permissions is not permissions  # a copy the runner may keep


def test_inline_tool_map_is_filtered_by_its_names():
    tools = {"lookup": inline("l"), "delete": inline("d")}
    result = HITLManager().apply_permissions(tools, HitlPermissions({"lookup": True}))
    assert result.filtered_tools == ["lookup"]
    off = HITLManager().apply_permissions(tools, HitlOff())
    assert off.filtered_tools == ["lookup", "delete"]


# --- run_checkpoint ----------------------------------------------------------------------


@pytest.mark.anyio
async def test_async_hook_resolving_true_approves_without_tty(no_tty):
    calls: list[tuple[str, str]] = []

    async def on_checkpoint(task_name: str, message: str) -> bool:
        calls.append((task_name, message))
        return True

    await HITLManager().run_checkpoint(
        "deploy", "Ship it?", WorkflowHooks(on_checkpoint=on_checkpoint)
    )
    assert calls == [("deploy", "Ship it?")]
    assert no_tty.read_threads == []


@pytest.mark.anyio
async def test_sync_true_from_the_hook_approves(no_tty):
    hooks = WorkflowHooks(on_checkpoint=lambda task, message: True)
    await HITLManager().run_checkpoint("t", "m", hooks)


@pytest.mark.anyio
async def test_sync_truthy_non_true_value_does_not_approve(no_tty):
    hooks = WorkflowHooks(on_checkpoint=lambda task, message: "sent")  # type: ignore[arg-type,return-value]
    with pytest.raises(HitlNotInteractiveError):
        await HITLManager().run_checkpoint("t", "m", hooks)


@pytest.mark.anyio
async def test_async_hook_resolving_false_without_tty_raises(no_tty):
    async def on_checkpoint(task_name: str, message: str) -> bool:
        return False

    with pytest.raises(HitlNotInteractiveError) as info:
        await HITLManager().run_checkpoint("t", "m", WorkflowHooks(on_checkpoint=on_checkpoint))
    assert info.value.task_name == "t"


@pytest.mark.anyio
async def test_sync_none_without_tty_raises_after_calling_the_hook(no_tty):
    calls: list[tuple[str, str]] = []
    hooks = WorkflowHooks(on_checkpoint=lambda task, message: calls.append((task, message)))
    with pytest.raises(HitlNotInteractiveError):
        await HITLManager().run_checkpoint("review", "Look?", hooks)
    assert calls == [("review", "Look?")]


@pytest.mark.anyio
@pytest.mark.parametrize("hooks", [None, WorkflowHooks()], ids=["no-hooks", "no-hook"])
async def test_no_hook_without_tty_raises_naming_the_task(no_tty, hooks):
    with pytest.raises(HitlNotInteractiveError) as info:
        await HITLManager().run_checkpoint("approve-me", "m", hooks)
    assert info.value.task_name == "approve-me"
    assert "approve-me" in str(info.value)


@pytest.mark.anyio
async def test_hook_exception_propagates(no_tty):
    def on_checkpoint(task_name: str, message: str) -> None:
        raise RuntimeError("hook broke")

    with pytest.raises(RuntimeError, match="hook broke"):
        await HITLManager().run_checkpoint("t", "m", WorkflowHooks(on_checkpoint=on_checkpoint))


@pytest.mark.anyio
async def test_missing_stdin_is_not_interactive(monkeypatch):
    monkeypatch.setattr(sys, "stdin", None)
    with pytest.raises(HitlNotInteractiveError):
        await HITLManager().run_checkpoint("t", "m", None)


@pytest.mark.anyio
async def test_closed_stdin_is_not_interactive(monkeypatch):
    monkeypatch.setattr(sys, "stdin", ClosedStdin())
    with pytest.raises(HitlNotInteractiveError):
        await HITLManager().run_checkpoint("t", "m", None)


@pytest.mark.anyio
async def test_tty_line_approves_and_prompt_is_shown(monkeypatch, capsys):
    stdin = FakeStdin(tty=True, lines=["\n"])
    monkeypatch.setattr(sys, "stdin", stdin)
    await HITLManager().run_checkpoint("t", "Deploy to prod?", None)
    out = capsys.readouterr().out
    assert "[ageflow HITL] Deploy to prod?" in out
    assert "Press Enter" in out
    assert stdin.lines == []
    # stdin is read off the event loop thread
    assert len(stdin.read_threads) == 1
    assert stdin.read_threads[0] != threading.get_ident()


@pytest.mark.anyio
async def test_tty_is_asked_when_the_hook_does_not_approve(monkeypatch):
    stdin = FakeStdin(tty=True, lines=["anything at all\n"])
    monkeypatch.setattr(sys, "stdin", stdin)
    calls: list[str] = []

    async def on_checkpoint(task_name: str, message: str) -> bool:
        calls.append(task_name)
        return False

    await HITLManager().run_checkpoint("t", "m", WorkflowHooks(on_checkpoint=on_checkpoint))
    assert calls == ["t"]
    assert len(stdin.read_threads) == 1


@pytest.mark.anyio
async def test_tty_end_of_input_raises(monkeypatch):
    monkeypatch.setattr(sys, "stdin", FakeStdin(tty=True, lines=[]))
    with pytest.raises(HitlNotInteractiveError) as info:
        await HITLManager().run_checkpoint("t", "m", None)
    assert info.value.task_name == "t"
