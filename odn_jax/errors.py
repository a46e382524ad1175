"""The project's own error types: bad input, shown to a user as one line without traceback.

Anything else raised inside odn_jax is a bug and keeps its traceback.
"""


class UserError(Exception):
  """Input the user can fix: a config key, a path, a dataset, a workdir."""


class ConfigError(UserError, ValueError):
  """A config value the search cannot follow; the message names the key and the fix."""
