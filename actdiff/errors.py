"""User-facing errors. The CLI prints any ``ActDiffError`` as one ``error: …`` line, exit 2."""


class ActDiffError(Exception):
    """Base class for errors caused by the user's input or environment (not by a bug)."""


class InputError(ActDiffError):
    """An input file or folder is missing, unreadable, corrupt, empty or of an unusable size."""


class OutputError(ActDiffError):
    """An output exists and ``--overwrite`` was not given, or it cannot be written."""


class ConfigError(ActDiffError):
    """A config file, group, key or value is unknown or invalid."""


class BitstreamError(ActDiffError):
    """A ``.adv`` file is truncated, corrupted, foreign or has absurd header values."""


class MissingWeightsError(ActDiffError):
    """Pretrained weights are not on disk; the message names the file and where to put it."""
