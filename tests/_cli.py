"""Helpers for tests of the command line."""

from __future__ import annotations


def one_error_line(capsys) -> str:
    """stderr of a command, checked to be ONE line starting with ``error:`` (the bad-input contract)."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err
    return err[0]
