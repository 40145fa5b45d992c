"""The command line: parse, call the library, print. Errors become one line on stderr.

Each command imports what it needs when it runs, so ``clbp-chat --help`` starts in a fraction of a
second instead of loading the settings, the pipeline and their libraries.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from clbp_chat.errors import ClbpError

if TYPE_CHECKING:
    from clbp_chat.config import Settings
    from clbp_chat.records import Answer

# The staff report's formats (report.FORMATS; a test holds the two equal): named here so that
# --help needs no import of the report and the question log behind it.
REPORT_FORMATS = ("text", "csv", "json")


def _settings() -> Settings:
    """The environment over the settings file, the same for every command."""
    from clbp_chat.config import get_settings

    return get_settings()


def format_answer(result: Answer) -> str:
    """Human-readable answer: the text, then a numbered source list."""
    lines = [result.answer]
    if result.citations:
        lines += ["", "Sources:"]
        for c in result.citations:
            link = f" {c.source}" if c.source else "".join(f" {url}" for url in c.sources)
            lines.append(f"  [{c.n}] {c.title} — {c.section}.{link}")
    return "\n".join(lines)


class _Group(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except ClbpError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(package_name="clbp-chat")
def main() -> None:
    """clbp-chat: answers about stem-cell therapy for chronic low back pain, from a curated corpus."""


@main.command()
@click.option("--rebuild", is_flag=True, help="Rebuild even when the index is up to date.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def ingest(rebuild: bool, quiet: bool) -> None:
    """(Re)build the index from the corpus folder."""
    from clbp_chat.corpus import load_corpus, skipped_files
    from clbp_chat.index import build_index

    settings = _settings()
    if settings.corpus_dir.is_dir():
        for line in skipped_files(settings.corpus_dir):
            click.echo(f"warning: {line}", err=True)
    try:
        report = build_index(settings, force=rebuild, progress=not quiet)
    except ClbpError:
        raise
    except Exception as exc:  # noqa: BLE001 - a store fault is a setup problem, not a traceback
        where = (
            f"the Chroma server at {settings.chroma_host}:{settings.chroma_port}"
            if settings.chroma_host
            else str(settings.index_dir)
        )
        raise ClbpError(f"cannot write the index to {where} ({type(exc).__name__})") from None
    if report.built:
        click.echo(
            f"Indexed {report.chunk_count} passages ({report.sentence_count} sentences) from "
            f"{settings.corpus_dir} in {report.seconds:.1f}s -> {report.path}"
        )
    else:
        click.echo(
            f"Index is up to date ({report.chunk_count} passages, built "
            f"{report.manifest.get('built_at', '?')}); nothing to do. Use --rebuild to force."
        )
    from clbp_chat.answer import Engine

    if Engine(settings).classifiers is not None:  # trained from the example banks, then cached
        click.echo("Learned safety and routing layers are ready.")
    if report.built:
        from clbp_chat.question_check import misrouted_questions

        for line in misrouted_questions(settings, load_corpus(settings.corpus_dir)):
            click.echo(f"warning: {line}", err=True)


@main.command()
@click.argument("question")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as one JSON object.")
def ask(question: str, as_json: bool) -> None:
    """Answer QUESTION from the corpus."""
    from clbp_chat.answer import Engine

    result = Engine(_settings()).answer(question)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False))
    else:
        click.echo(format_answer(result))


@main.command()
@click.option("--host", default=None, help="Address to bind (default CLBP_HOST, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(1, 65535), default=None, help="Port (default CLBP_PORT, 7860)."
)
def serve(host: str | None, port: int | None) -> None:
    """Serve the chat UI, the HTTP API and the widget."""
    from clbp_chat.web.server import run

    settings = _settings()
    run(settings, host or settings.host, port or settings.port)


@main.command("eval")
@click.option(
    "--set",
    "question_set",
    type=click.Path(path_type=Path),
    default=None,
    help="Question set YAML (default: every file in evals/sets).",
)
@click.option("--json", "as_json", is_flag=True, help="Print results.json to stdout.")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("eval-runs/latest"),
    help="Folder for results.json, report.md, charts and the RAGAS export.",
)
@click.option(
    "--compare",
    type=click.Path(path_type=Path),
    default=None,
    help="A previous results.json: print deltas and mark regressions.",
)
@click.option(
    "--check",
    is_flag=True,
    help="Exit 1 when a quality bound in evals/thresholds.yaml is missed, 3 when only latency is.",
)
@click.option(
    "--thresholds", type=click.Path(path_type=Path), default=Path("evals/thresholds.yaml")
)
@click.option(
    "--bounds",
    default=None,
    help="Which section of the thresholds file --check uses: 'overall' for the default sets; "
    "a --set file needs its own named (e.g. 'patients' for the dev set).",
)
def eval_cmd(question_set, as_json, out, compare, check, thresholds, bounds) -> None:
    """Run the answer-quality evals and write a report."""
    from clbp_chat.extras import require

    require("matplotlib", "the eval's charts")
    require("langchain_chroma", "the eval's tutorial baseline")
    from clbp_chat.evaluate.run import run_eval

    # The eval's questions are not patients': never in the question log or the staff report.
    settings = _settings().model_copy(update={"log_questions": False})
    code = run_eval(settings, question_set, out, compare, check, thresholds, as_json, bounds)
    sys.exit(code)


@main.command()
def settings() -> None:
    """Print the settings file read, then every setting with its variable and current value."""
    from clbp_chat.config import Settings, settings_file

    current = _settings()
    file = settings_file()
    where = file.resolve() if file else f"none (no clbp.env or .env in {Path.cwd()})"
    click.echo(f"# settings file: {where} (CLBP_ENV_FILE names another)")
    for name, field in Settings.model_fields.items():
        click.echo(f"CLBP_{name.upper()}={getattr(current, name)!s}\n    {field.description}")


@main.command()
@click.option(
    "--since",
    default=None,
    help="Only questions from this day (2026-11-30) or the last N days (7d).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(REPORT_FORMATS),
    default="text",
    show_default=True,
    help="text to read, csv for a spreadsheet, json for other tools.",
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Most questions listed a topic (text).",
)
def report(since: str | None, fmt: str, limit: int) -> None:
    """What patients asked that the library could not answer, or rated down: grouped by topic,
    with counts and the reason (needs CLBP_LOG_QUESTIONS=true)."""
    from clbp_chat.privacy import question_log
    from clbp_chat.report import build_report, parse_since, render

    settings = _settings()
    try:
        start = parse_since(since)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--since") from None
    if not question_log(settings).is_file():
        state = "on, but nothing is logged yet" if settings.log_questions else "off"
        click.echo(f"Question logging is {state} (CLBP_LOG_QUESTIONS), so there is no report.")
        return
    if not settings.log_questions:
        click.echo(
            "Note: question logging is off now (CLBP_LOG_QUESTIONS=false); this is what was kept.",
            err=True,
        )
    click.echo(render(build_report(settings, start), fmt, limit))


main.add_command(report, "unanswered")
