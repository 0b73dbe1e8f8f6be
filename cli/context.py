"""What every command gets: the API client and where to print."""

import argparse
from collections.abc import Callable
from dataclasses import dataclass

from cli.api_client import ApiClient
from cli.exit_codes import ExitCode
from cli.output import Output


@dataclass
class Context:
    api: ApiClient
    out: Output


Command = Callable[[argparse.Namespace, Context], ExitCode]
