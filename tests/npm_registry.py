"""Test components with npm dependencies (tests/components/twin-node: lodash) install them from the
npm registry when they are set up: the one place the tests need the network. This makes a failure
there say so, rather than look like a broken runtime."""

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from catalog.build_context import VendoringError


@contextmanager
def from_the_npm_registry(what: str) -> Iterator[None]:
    try:
        yield
    except VendoringError as exc:
        pytest.fail(f"{what} needs packages from the npm registry, and npm could not install them (the registry "
                    f"must be reachable from this host: try `npm ping`):\n{exc}", pytrace=False)
