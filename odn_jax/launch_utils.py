"""Plumbing shared by the `launch/` entry points."""

import sys

from absl import app, flags

_VERBOSE = flags.DEFINE_bool('verbose', False, 'Show the Python traceback of an error.')

# Errors that describe bad input: shown as one line, never as a traceback.
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, FileExistsError, NotADirectoryError,
               PermissionError)


def run_main(main):
  """absl's app.run, but bad input ends with one line on stderr and exit status 2."""

  def guarded(argv):
    try:
      return main(argv)
    except USER_ERRORS as e:
      if _VERBOSE.value:
        raise
      message = e.args[0] if isinstance(e, KeyError) and e.args else e
      print(f'error: {message}', file=sys.stderr)
      sys.exit(2)

  app.run(guarded)
