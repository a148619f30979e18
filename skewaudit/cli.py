"""The ``skewaudit`` command line: wiring only.

Each command lives in its own module under ``skewaudit.commands``; those
modules import only typer and the standard library at top level, so
``skewaudit --help`` never pays for pydantic models, ``kubernetes`` or
``deepdiff``. This is the only place that turns errors into exit codes.
"""

from __future__ import annotations

import os
import sys

import typer

from skewaudit.commands import (collect, compare, completion, datadiff, diff, explain, init, profile, report, schema,
                                serve, snapshot, validate)
from skewaudit.errors import ExitCode, SkewauditError, SpecError, printable

app = typer.Typer(
    name="skewaudit",
    help="Audit what an ML model is served with against its ModelSpec: intended versus running.\n\n"
    "Exit codes: 0 clean, 1 drift found, 2 usage or input error, 3 environment unavailable.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: rich-formatted help costs ~70 ms of imports on every --help.
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("validate")(validate.validate)
app.command("schema")(schema.schema)
app.command("collect")(collect.collect)
app.command("diff")(diff.diff)
app.command("snapshot")(snapshot.snapshot)
app.command("compare")(compare.compare)
app.command("bundle")(report.bundle)
app.command("init")(init.init)
app.command("checks")(explain.checks)
app.command("explain")(explain.explain)
app.command("profile")(profile.profile)
app.command("data-diff")(datadiff.data_diff)
app.command("serve")(serve.serve)
app.command("completion")(completion.completion)


@app.callback(invoke_without_command=True)
def _root(
    version: bool = typer.Option(False, "--version", help="Print the version and exit."),
) -> None:
    if version:
        from skewaudit import __version__
        from skewaudit.runtimes import flag_tables

        # Which engine releases the argv parsers were written against: a flag added later reads as unknown.
        lines = [f"skewaudit {__version__}", "engine flag tables:"]
        tables = flag_tables()
        width = max((len(engine) for engine, _ in tables), default=0)
        lines += [f"  {engine:<{width}}  {follows}" for engine, follows in tables]
        typer.echo("\n".join(lines))
        raise typer.Exit(0)


def _error(e: SkewauditError) -> None:
    # Spec problems are already "file:line:col: path: message" lines, one each.
    # Messages quote file names, object names and API answers: control characters are escaped
    # (one line per spec problem, one line for anything else) so a hostile name can neither
    # repaint the terminal nor forge another line.
    from skewaudit import redact   # a message may quote a URL with credentials (a kubeconfig server)

    lines = e.problems if isinstance(e, SpecError) else [f"error: {e.message.rstrip()}"]
    sys.stderr.write("".join(printable(redact.scrub(line.rstrip("\n"))) + "\n" for line in lines))


def main() -> None:
    """Console-script entry point: run the app, map errors to exit codes."""
    from skewaudit import deadline

    try:
        # The deadline counts from here; the commands that read a source of running facts
        # arm it from --deadline / SKEWAUDIT_DEADLINE (others, such as profile, run unbounded).
        deadline.start()
        if completion.COMPLETE_VAR in os.environ:
            completion.prepare()   # the shell asks for completions (typer's classes load only then)
        app(standalone_mode=True, prog_name=_prog_name(), complete_var=completion.COMPLETE_VAR)
    except SkewauditError as e:
        deadline.finish()   # the deadline's repeating backstop must not interrupt the error line
        _error(e)
        sys.exit(int(e.exit_code))
    except KeyboardInterrupt:
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
    except BrokenPipeError:
        # `skewaudit … | head`: the reader went away; not an error of ours.
        sys.exit(0)
    except Exception as e:  # noqa: BLE001 - last resort: a bug must not look like drift
        if os.environ.get("SKEWAUDIT_DEBUG"):
            # The traceback helps a bug report; the exit code stays the one CI gates on.
            import traceback

            traceback.print_exc()
        sys.stderr.write(f"error: internal error ({type(e).__name__}: {printable(str(e))}); this is a bug in skewaudit. "
                         "Re-run with SKEWAUDIT_DEBUG=1 for the traceback.\n")
        sys.exit(int(ExitCode.BUG))
    finally:
        deadline.finish()


def _prog_name() -> str:
    # Run as a kubectl plugin (kubectl execs kubectl-skewaudit), usage lines read as the user typed them.
    return "kubectl skewaudit" if os.path.basename(sys.argv[0] or "").startswith("kubectl-") else "skewaudit"
