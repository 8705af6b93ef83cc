"""``ageflow learn status|export|import``: the skills in a learning store; ``evaluate`` and
``promote`` are in learn_cycle_cmd.py.

Every subcommand works on one store file (``--db``, default ``./ageflow-learning.db``)
through ``with_learning_db``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from ageflow.cli.errors import CliError
from ageflow.cli.learn_cycle_cmd import evaluate, promote
from ageflow.cli.learn_store import DEFAULT_LEARNING_DB, LearningDb, with_learning_db
from ageflow.cli.output import listing_table, print_json, stdout_console
from ageflow.cli.params import AsJson, command_group
from ageflow.cli.skill_file import SkillFileError, file_names, parse, render
from ageflow.learning import SkillRecord, SkillStatus
from ageflow.learning_sqlite import LearningDatabase

SHORT_ID = 8


# -- status ------------------------------------------------------------------------------------


def ancestors(skill: SkillRecord, by_id: Mapping[str, SkillRecord]) -> list[str]:
    """The ids up the lineage from ``skill``: its parent first, the root last.

    A parent that is no longer stored ends the walk (its id is still listed); a cycle of
    parents ends it too.
    """
    chain: list[str] = []
    parent = skill.parent_id
    while parent is not None and parent not in chain and parent != skill.id:
        chain.append(parent)
        above = by_id.get(parent)
        parent = None if above is None else above.parent_id
    return chain


def status(db: LearningDb = DEFAULT_LEARNING_DB, as_json: AsJson = False) -> None:
    """Show the active skills with their scores, run counts and lineage.

    One row per active skill, by agent and then best score first. LINEAGE lists the
    versions it descends from, its root first; BEST says whether it is the best-scoring
    version of its lineage.
    """

    async def read(store: LearningDatabase) -> list[SkillRecord]:
        return list(await store.skills.list_skills())

    skills = with_learning_db(db, read)
    by_id = {skill.id: skill for skill in skills}
    active = sorted(
        (s for s in skills if s.status is SkillStatus.ACTIVE),
        key=lambda s: (s.agent, s.workflow or "", -s.score, -s.version),
    )
    if as_json:
        print_json(
            [{**s.model_dump(mode="json"), "ancestors": ancestors(s, by_id)} for s in active]
        )
        return
    out = stdout_console()
    if not active:
        out.print(f"No active skills in {escape(db)}.")
        return
    table = listing_table()
    table.add_column("ID", no_wrap=True, min_width=36)
    table.add_column("NAME")
    table.add_column("AGENT")
    table.add_column("WORKFLOW")
    table.add_column("SCORE", justify="right", no_wrap=True)
    table.add_column("RUNS", justify="right", no_wrap=True)
    table.add_column("VERSION", justify="right", no_wrap=True)
    table.add_column("LINEAGE")
    table.add_column("BEST", no_wrap=True)
    for s in active:
        chain = [i[:SHORT_ID] for i in reversed(ancestors(s, by_id))]
        table.add_row(
            s.id,
            escape(s.name),
            escape(s.agent),
            escape(s.workflow or "-"),
            f"{s.score:.3f}",
            str(s.run_count),
            str(s.version),
            escape(" > ".join(chain) if chain else "-"),
            "yes" if s.best_in_lineage else "no",
        )
    out.print(table)


# -- export ------------------------------------------------------------------------------------


def export(
    out: Annotated[
        Path,
        typer.Option(
            "-o", "--out", metavar="DIR", help="Where to write the files (created if missing)."
        ),
    ] = Path("skills"),
    db: LearningDb = DEFAULT_LEARNING_DB,
    as_json: AsJson = False,
) -> None:
    """Write every skill, whatever its status, as a .skill.md file.

    One file per skill, named <name>-v<version>-<id prefix>.skill.md; a file of that name
    is replaced. Each file can be read back with `ageflow learn import`.
    """

    async def read(store: LearningDatabase) -> list[SkillRecord]:
        return list(await store.skills.list_skills())

    skills = with_learning_db(db, read)
    directory = out.resolve()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        written = [
            (s, _write_atomically(directory / name, render(s)))
            for s, name in zip(skills, file_names(skills), strict=True)
        ]
    except OSError as exc:
        raise CliError(f'cannot write skills to "{out}": {exc.strerror or exc}') from exc
    if as_json:
        print_json(
            {
                "directory": str(directory),
                "files": [{"id": s.id, "name": s.name, "path": str(p)} for s, p in written],
            }
        )
        return
    typer.echo(f"Exported {len(written)} skill(s) to {directory}")


def _write_atomically(path: Path, text: str) -> Path:
    """Write through a temporary file in the same folder, so a file is whole or absent."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


# -- import ------------------------------------------------------------------------------------


def import_skill(
    path: Annotated[
        Path,
        typer.Argument(metavar="PATH", help="The .skill.md file to import.", show_default=False),
    ],
    db: LearningDb = DEFAULT_LEARNING_DB,
    as_json: AsJson = False,
) -> None:
    """Import a .skill.md file into the store.

    The record keeps the file's id, so importing an exported skill again replaces it; a
    file without an id gets a new one. A missing store file is created.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CliError(f'no file "{path}"') from None
    except UnicodeDecodeError as exc:
        raise CliError(f'"{path}" is not UTF-8 text: {exc.reason} at byte {exc.start}') from exc
    except OSError as exc:
        raise CliError(f'cannot read "{path}": {exc.strerror or exc}') from exc
    try:
        skill = parse(text)
    except SkillFileError as exc:
        raise CliError(f'"{path}" is not a valid .skill.md file: {exc}') from exc
    created = not Path(db).exists()

    async def save(store: LearningDatabase) -> bool:
        replaced = await store.skills.get(skill.id) is not None
        await store.skills.save(skill)
        return replaced

    replaced = with_learning_db(db, save, create=True)
    if as_json:
        document: dict[str, Any] = {
            "skill": skill.model_dump(mode="json"),
            "replaced": replaced,
            "store_created": created,
        }
        print_json(document)
        return
    action = "replaced the stored version" if replaced else "new"
    where = f"{db} (a new store)" if created else db
    typer.echo(f'Imported skill "{skill.name}" ({skill.id}, {action}) into {where}')


def register(app: typer.Typer) -> None:
    learn = command_group(
        "learn", "Manage learned skills: status, evaluation, promotion, export and import."
    )
    learn.command("status")(status)
    learn.command("evaluate")(evaluate)
    learn.command("promote")(promote)
    learn.command("export")(export)
    learn.command("import")(import_skill)
    app.add_typer(learn)
