"""``conflux`` / ``python -m cli``: parse, run one command, turn its outcome into an exit code."""

import sys
from collections.abc import Sequence
from typing import TextIO

import httpx

from cli.api_client import ApiClient, CliFailure
from cli.context import Context
from cli.exit_codes import ExitCode
from cli.output import Output
from cli.parser import build_parser


def main(argv: Sequence[str] | None = None, *, transport: httpx.BaseTransport | None = None,
         stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    """The exit code (never raises SystemExit, so tests and scripts can call it in-process);
    ``transport`` and the streams are the seams tests use."""
    out = Output(mode="table", out=stdout or sys.stdout, err=stderr or sys.stderr)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2), already printed
        return exit_.code if isinstance(exit_.code, int) else ExitCode.USAGE
    out.mode = args.output
    api = ApiClient(args.api, timeout=args.request_timeout, transport=transport, token=args.token)
    try:
        return int(args.handler(args, Context(api=api, out=out)))
    except CliFailure as failure:
        out.error(failure.message)
        out.problems(failure.problems)
        return int(failure.code)
    except KeyboardInterrupt:
        out.err.write("\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:  # `conflux … | head`: the reader has what it wanted
        _silence_stdout()
        return int(ExitCode.OK)
    finally:
        api.close()


def _silence_stdout() -> None:
    """Python flushes stdout at exit and would report the broken pipe again (its documented recipe)."""
    import os

    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):  # a stream without a descriptor (tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
