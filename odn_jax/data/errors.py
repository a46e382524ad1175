"""The data layer's one error type: what was found, what was expected, what to run."""


class DataError(ValueError):
  """Data that is missing, unprepared or malformed; the message names the fix."""
