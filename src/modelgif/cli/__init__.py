"""The `modelgif` command line: thin wrappers over the Python API.

    modelgif <command> ...      one module per command: modelgif/cli/cmd_<command>.py
      parse flags -> call the modelgif API -> print (human text or --json) -> exit code

Each `cmd_*.py` module exposes `register(subparsers)`; they are discovered automatically so a
new command is one new file. Conventions (see README):
- exit 0: done; 1: a finding the user asked to fail on (`--fail-on`); 2: error or unusable
  input, reported as ONE line on stderr, never a traceback;
- `--json` makes stdout pure JSON; human text, logs and progress bars go to stderr;
- `--log-level` or MODELGIF_LOG_LEVEL sets the logging level;
- every command that writes checks its outputs before any work and replaces nothing without
  `--force` (modelgif.atomic_write); a closed stdout (`| head`) ends quietly with 141.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from modelgif.cli.output import printable
from modelgif.errors import ModelgifError

__all__ = ["OneLineParser", "build_parser", "main"]

EXIT_OK = 0
EXIT_FINDING = 1
EXIT_ERROR = 2
_LOG_LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR"]
EXIT_BROKEN_PIPE = 128 + 13  # the shell's code for a process ended by SIGPIPE

DESCRIPTION = """\
modelgif: forensics for neural networks with ModelGiF gradient fields.

Was a suspect model derived from yours? Did a model really forget data? modelgif normalizes
any model to ONNX, computes its gradient field at secret anchors derived from your key, and
turns field distances into verdicts with a stated false-positive rate.
"""

EPILOG = """\
examples:
  modelgif demo                            run the whole workflow on built-in data
  modelgif normalize model.onnx -o n.onnx  canonical ONNX + digest of any model
  modelgif <command> --help                help for one command

exit codes: 0 done, 1 finding (with --fail-on), 2 error or unusable input
"""


class OneLineParser(argparse.ArgumentParser):
    """argparse, except that a usage error is one line (and exit 2), like every other error.

    argparse prints the whole usage block before its message; a script reading stderr, or a
    person, then sees several lines for one mistake. The usage stays one `--help` away.
    """

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_ERROR, f"{self.prog}: error: {printable(message)} "
                              f"(see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every discovered `cmd_*` module registered."""
    parser = OneLineParser(
        prog="modelgif",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("MODELGIF_LOG_LEVEL", "WARNING"),
        choices=_LOG_LEVELS,
        help="logging level (default: $MODELGIF_LOG_LEVEL or WARNING); logs go to stderr",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"{__name__}.{info.name}")
            module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what signed records repeat
    if args.log_level not in _LOG_LEVELS:  # argparse checks choices, not a default from $ENV
        print(f"modelgif: error: $MODELGIF_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}; "
              f"got {printable(args.log_level)!r}", file=sys.stderr)
        return EXIT_ERROR
    logging.basicConfig(level=args.log_level, format="%(levelname)s %(name)s: %(message)s")
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_ERROR
    try:
        code: int = args.func(args)
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except ModelgifError as error:
        print(f"modelgif: error: {printable(error)}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as error:  # disk full, permission denied, a vanished file...
        where = f": {error.filename}" if error.filename else ""
        print(f"modelgif: error: {printable(f'{error.strerror or error}{where}')}",
              file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("modelgif: interrupted", file=sys.stderr)
        return 130
    return code


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush raises nothing."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
