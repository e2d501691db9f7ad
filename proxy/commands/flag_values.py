"""The values ``vernier``'s flags take, checked as argparse parses them: a bad one is a usage
error (exit 2) that says what was expected, before any command runs."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from proxy.config.load import parse_listen
from proxy.rules.clock import clock_value_problem
from proxy.rules.segments import SEGMENT_FIELD, SEGMENTS_FIELD, did_you_mean, known_field


def listen(value: str) -> str:
    try:
        parse_listen(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return value


def listen_or_off(value: str) -> str:
    return listen(value) if value else value


def url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected an http:// or https:// URL, got {value!r}")
    return value


def workers(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 64:
        raise argparse.ArgumentTypeError(f"expected a whole number from 1 to 64, got {value!r}")
    return int(value)


def bounded_int(low: int, high: int) -> Callable[[str], int]:
    def parse(value: str) -> int:
        if not value.isdigit() or not low <= int(value) <= high:
            raise argparse.ArgumentTypeError(
                f"expected a whole number from {low} to {high}, got {value!r}"
            )
        return int(value)

    return parse


def country(value: str) -> str:
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise argparse.ArgumentTypeError(f"expected a two-letter country code, got {value!r}")
    return value.upper()


def pair(separator: str) -> Callable[[str], tuple[str, str]]:
    def parse(value: str) -> tuple[str, str]:
        name, found, rest = value.partition(separator)
        if not found or not name.strip():
            raise argparse.ArgumentTypeError(f"expected NAME{separator}VALUE, got {value!r}")
        return name.strip(), rest.strip()

    return parse


def profile_field(value: str) -> tuple[str, str]:
    """``--profile NAME=VALUE``: a field the rules can read, and a number (the profile holds
    numbers, but for the visitor's time zone ``tz``), as a condition would compare it."""
    name, number = pair("=")(value)
    if not known_field(name):
        raise argparse.ArgumentTypeError(f"unknown profile field {name!r}{did_you_mean(name)}")
    if name != "tz":
        try:
            amount = float(number)
        except ValueError:
            amount = math.nan
        if not math.isfinite(amount):
            raise argparse.ArgumentTypeError(f"{name} takes a number, got {number!r}")
        share = name.startswith(("max_scroll", "score", "interest"))  # fractions of a whole
        if amount < 0 or (share and amount > 1):
            bounds = "0 to 1" if share else "0 or more"
            raise argparse.ArgumentTypeError(f"{name} takes {bounds}, got {number!r}")
    return name, number


def context_field(value: str) -> tuple[str, str]:
    """``--set NAME=VALUE``: a field the rules can read (a misspelt one would be set and never
    read); ``hour`` a whole number 0-23 and ``weekday`` mon..sun, as the context has them."""
    name, given = pair("=")(value)
    if name in (SEGMENT_FIELD, SEGMENTS_FIELD):  # computed from the segments' conditions
        raise argparse.ArgumentTypeError(
            f"{name} follows from the segments' conditions: set the fields they read instead "
            "(--profile, --set)"
        )
    if not known_field(name):
        raise argparse.ArgumentTypeError(f"unknown context field {name!r}{did_you_mean(name)}")
    if (problem := clock_value_problem(name, typed(given))) is not None:
        raise argparse.ArgumentTypeError(problem)
    return name, given


def typed(value: str) -> object:
    """A context value as a rule would compare it: a number or boolean when it reads as one."""
    if value in ("true", "false"):
        return value == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class OncePerName(argparse.Action):
    """A repeatable ``NAME=VALUE`` flag (values from :func:`pair` and the like) that gives each
    name once: the values become a mapping, where a second one would silently win."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: object,
        option_string: str | None = None,
    ) -> None:
        given = list(getattr(namespace, self.dest) or [])
        assert isinstance(values, tuple)  # the flag's type made it a (name, value) pair
        if any(name == values[0] for name, _ in given):
            raise argparse.ArgumentError(self, f"{values[0]} given twice")
        setattr(namespace, self.dest, [*given, values])
