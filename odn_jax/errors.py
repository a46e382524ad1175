"""The project's own error types: bad input, named where it is checked.

The launchers print a `UserError` as one line and exit with status 2 (`launch_utils`);
anything else is a bug and keeps its traceback. Each type also derives from the builtin
a caller would expect (`ValueError`, `FileNotFoundError`), so `except ValueError` still
catches a bad config value.
"""


class UserError(Exception):
  """Input the project cannot use; the message names what is wrong and how to fix it."""


class ConfigError(UserError, ValueError):
  """A config value the run cannot follow, or a workdir that holds another config's run."""


class FlagError(UserError, ValueError):
  """A command-line flag or argument of a launcher that cannot be used."""


class NotFoundError(UserError, FileNotFoundError):
  """A file or folder the input names does not exist (yet): a workdir, a model file."""
