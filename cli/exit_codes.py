"""What ``conflux`` exits with: one meaning per code, so scripts can tell "fix your input" from
"try again later" from "the run itself failed"."""

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # the API refused the request (4xx), a run failed, or one of the applied files failed
    USAGE = 2  # the command line is wrong (argparse's own code), or a file/body given cannot be read
    UNAVAILABLE = 3  # the API cannot be reached, or answered 5xx (e.g. Temporal is down)
    TIMED_OUT = 4  # waiting for a run or a reply took longer than --timeout (the run goes on)
    INTERRUPTED = 130  # Ctrl-C, as shells count it


EXIT_CODES_HELP = """exit codes:
  0    ok
  1    the API refused the request (4xx), the run failed, or a file of `apply` failed
  2    usage error: wrong arguments, an unreadable --body-file or body
  3    the API is not reachable or answered 5xx (e.g. Temporal is down): try again later
  4    timed out waiting (runs follow --timeout, send --wait); the run goes on
  130  interrupted (Ctrl-C)"""
