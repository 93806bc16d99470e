"""Helpers for command-line entry points: one clear line and a non-zero exit on bad input."""

import sys
from collections.abc import Sequence
from typing import Callable, NoReturn, Optional

from videossl.errors import UserError


def run_cli(main: Callable[[Optional[Sequence[str]]], Optional[int]], argv: Optional[Sequence[str]] = None) -> NoReturn:
    """Run ``main(argv)``; a ``UserError`` becomes ``error: <message>`` on stderr and exit 2 (a
    preempted run: ``stopped: <message>`` and its own exit status)."""
    try:
        code = main(argv)
    except UserError as err:
        print(f"{getattr(err, 'prefix', 'error')}: {err}", file=sys.stderr)
        sys.exit(getattr(err, "exit_code", 2))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
