"""The command line: parse the arguments and run one command (plan, build, publish, smoke, bump)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from . import __doc__ as DESCRIPTION  # the tool's description, printed by --help
from .building import build_all
from .bumping import bump
from .errors import ReleaseError
from .graph import range_problems
from .index import REPOSITORIES, Index, SimpleIndex
from .plan import make_plan, render_plan
from .publishing import TwineUploader, Waiting, publish_all
from .smoke import index_install_args, smoke_test
from .workspace import Workspace, discover_workspace

# The workspace root: this file is scripts/ageflow_release/cli.py.
DEFAULT_ROOT = Path(__file__).resolve().parents[2]


def resolve_index(args: argparse.Namespace) -> Index | None:
    if getattr(args, "offline", False):
        return None
    if args.index_url:
        return SimpleIndex(args.index_url)
    return SimpleIndex(REPOSITORIES[args.repository].index_url)


def command_plan(workspace: Workspace, args: argparse.Namespace) -> int:
    index = resolve_index(args)
    print(render_plan(make_plan(workspace, index), index))
    problems = range_problems(workspace)
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def command_build(workspace: Workspace, args: argparse.Namespace) -> int:
    problems = range_problems(workspace)
    if problems:
        raise ReleaseError("refusing to build:\n  " + "\n  ".join(problems))
    artifacts = build_all(workspace, args.dist_dir)
    if args.no_smoke:
        print("smoke test skipped (--no-smoke)")
        return 0
    wheels = [str(p) for paths in artifacts.values() for p in paths if p.name.endswith(".whl")]
    smoke_test(workspace, wheels, venv_path=args.venv)
    print(f"built and checked {len(artifacts)} packages into {args.dist_dir}")
    return 0


def command_publish(workspace: Workspace, args: argparse.Namespace) -> int:
    if args.repository_url:
        if not args.index_url:
            raise ReleaseError("--repository-url needs --index-url (where to check what is there)")
        upload_url, index_url = args.repository_url, args.index_url
    else:
        repository = REPOSITORIES[args.repository]
        upload_url, index_url = repository.upload_url, args.index_url or repository.index_url
    waiting = Waiting(timeout=args.wait_timeout, interval=args.poll_interval)
    outcomes = publish_all(
        workspace, args.dist_dir, SimpleIndex(index_url), TwineUploader(upload_url), waiting
    )
    uploaded = sum(1 for o in outcomes if o.uploaded)
    print(f"published {uploaded} packages, {len(outcomes) - uploaded} were already there")
    return 0


def command_smoke(workspace: Workspace, args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="ageflow-release-") as scratch:
        install_args = index_install_args(
            workspace, args.index_url, args.extra_index_url, Path(scratch) / "constraints.txt"
        )
        smoke_test(workspace, install_args, venv_path=args.venv)
    print("smoke test passed")
    return 0


def command_bump(workspace: Workspace, args: argparse.Namespace) -> int:
    result = bump(workspace, args.package, args.part)
    print(f"{result.package.display_name}: {result.package.version} -> {result.new_version}")
    for dependent, old, new in result.widened:
        print(f"{dependent.display_name}: {old} -> {new}")
    if result.widened:
        names = sorted({d.display_name for d, _, _ in result.widened})
        print(
            "the wider ranges reach users only with a new release of "
            f"{', '.join(names)}: bump them too (patch) if they should be published now"
        )
    return 0


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="release.py",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT, help="workspace root")
    commands = parser.add_subparsers(dest="command", required=True)

    plan = commands.add_parser("plan", help="show the publish order and check sibling ranges")
    plan.add_argument("--repository", choices=sorted(REPOSITORIES), default="pypi")
    plan.add_argument("--index-url", help="simple API to check instead of the repository's")
    plan.add_argument("--offline", action="store_true", help="do not look at any index")

    build = commands.add_parser("build", help="build, check and smoke-test every package")
    build.add_argument("--dist-dir", type=Path, default=None, help="default: <root>/dist")
    build.add_argument("--no-smoke", action="store_true", help="skip the install smoke test")
    build.add_argument("--venv", type=Path, help="create (and keep) the smoke environment here")

    publish = commands.add_parser("publish", help="upload in dependency order")
    target = publish.add_mutually_exclusive_group(required=True)
    target.add_argument("--repository", choices=sorted(REPOSITORIES))
    target.add_argument("--repository-url", help="upload URL of another index (with --index-url)")
    publish.add_argument("--index-url", help="simple API of the target index")
    publish.add_argument("--dist-dir", type=Path, default=None, help="default: <root>/dist")
    publish.add_argument("--wait-timeout", type=float, default=600.0, help="seconds per package")
    publish.add_argument("--poll-interval", type=float, default=10.0, help="seconds")

    smoke = commands.add_parser("smoke", help="install the release from an index and check it")
    smoke.add_argument("--index-url", required=True)
    smoke.add_argument("--extra-index-url", action="append", default=[])
    smoke.add_argument("--venv", type=Path, help="create (and keep) the environment here")

    bump_parser = commands.add_parser("bump", help="bump a version and widen dependents' ranges")
    bump_parser.add_argument("package")
    bump_parser.add_argument("part", choices=["major", "minor", "patch"])

    args = parser.parse_args(argv)
    if getattr(args, "dist_dir", "absent") is None:
        args.dist_dir = args.root / "dist"
    return args


COMMANDS: dict[str, Callable[[Workspace, argparse.Namespace], int]] = {
    "plan": command_plan,
    "build": command_build,
    "publish": command_publish,
    "smoke": command_smoke,
    "bump": command_bump,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        workspace = discover_workspace(args.root)
        return COMMANDS[args.command](workspace, args)
    except ReleaseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
