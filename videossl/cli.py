"""Helpers for command-line entry points: one clear line and a non-zero exit on bad input."""

import argparse
import copy
import sys
from argparse import SUPPRESS, Action, ArgumentTypeError, RawDescriptionHelpFormatter
from collections.abc import Sequence
from typing import Any, Callable, NoReturn, Optional

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


def _number(kind: Callable[[str], float], minimum: float, inclusive: bool, what: str) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = kind(text)
        except ValueError:
            raise ArgumentTypeError(f"{text!r} is not {what}") from None
        if value < minimum or (value == minimum and not inclusive):
            raise ArgumentTypeError(f"{text} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


# argparse types for numbers with a range: a value out of range is argparse's one-line error,
# before the command creates anything.
positive_int = _number(int, 1, True, "a whole number >= 1")
non_negative_int = _number(int, 0, True, "a whole number >= 0")
positive_float = _number(float, 0.0, False, "a number > 0")
non_negative_float = _number(float, 0.0, True, "a number >= 0")


def epoch_list(text: str) -> tuple[int, ...]:
    """'45,48' -> (45, 48), '7,12-14' -> (7, 12, 13, 14): an argparse type."""
    epochs = []
    try:
        for part in filter(None, (p.strip() for p in text.split(","))):
            first, _, last = part.partition("-")
            epochs += range(int(first), int(last or first) + 1)
    except ValueError:
        raise ArgumentTypeError(f"{text!r} is not a comma-separated list of epochs (ranges as 12-50)") from None
    epochs = tuple(epochs)
    if any(epoch < 1 for epoch in epochs):
        raise ArgumentTypeError(f"{text!r}: epochs count from 1")
    return epochs


def epoch_ranges(epochs: Sequence[int]) -> str:
    """(7, 12, 13, 14) -> '7,12-14', the form ``epoch_list`` reads."""
    parts, run = [], []
    for epoch in sorted(epochs):
        if run and epoch != run[-1] + 1:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
            run = []
        run.append(epoch)
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ",".join(parts)


def probability(text: str) -> float:
    """A number in [0, 1] (probabilities, fractions)."""
    value = non_negative_float(text)
    if value > 1:
        raise ArgumentTypeError(f"{text} is not a number in [0, 1]")
    return value


def _shows_default(action: Action) -> bool:
    flag_with_value = bool(action.option_strings) and action.nargs != 0
    return flag_with_value and action.default not in (None, SUPPRESS, "")


class HelpFormatter(RawDescriptionHelpFormatter):
    """The description as written, and every flag's default after its help."""

    def _get_help_string(self, action: Action) -> str:
        text = action.help or ""
        if _shows_default(action) and "%(default)" not in text:
            text = f"{text} (default: %(default)s)" if text else "default: %(default)s"
        return text

    def add_argument(self, action: Action) -> None:
        if not action.help and _shows_default(action):  # argparse prints no help line for an empty help
            action = copy.copy(action)
            action.help = "default: %(default)s"
        super().add_argument(action)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with the defaults in --help and a bad flag as one line (no usage block)."""

    def __init__(self, *args: Any, formatter_class: type = HelpFormatter, **kwargs: Any) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {message} ({self.prog} --help lists the flags)\n")


def given_flags(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The destinations of the flags ``argv`` gives explicitly (parsed with every default hidden)."""
    defaults = {action: action.default for action in parser._actions}  # argparse keeps no public list
    set_defaults = parser._defaults
    try:
        for action in defaults:
            action.default = SUPPRESS
        parser._defaults = {}
        return set(vars(parser.parse_known_args(list(argv))[0]))
    finally:
        parser._defaults = set_defaults
        for action, default in defaults.items():
            action.default = default
