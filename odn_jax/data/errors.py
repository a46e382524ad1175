"""The data layer's one error type: what was found, what was expected, what to run."""

from odn_jax.errors import UserError


class DataError(UserError, ValueError):
  """Data that is missing, unprepared or malformed; the message names the fix."""
