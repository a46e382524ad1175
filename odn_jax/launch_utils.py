"""Plumbing shared by the `launch/` entry points."""

import sys

from absl import app, flags, logging

_VERBOSE = flags.DEFINE_bool('verbose', False, 'Show the Python traceback of an error.')

# Errors that describe bad input: shown as one line, never as a traceback.
USER_ERRORS = (ValueError, KeyError, FileNotFoundError, FileExistsError, NotADirectoryError,
               PermissionError)


def _one_line(e: BaseException) -> str:
  if isinstance(e, (KeyError, AttributeError)) and e.args:
    # ml_collections nests a KeyError's repr in its message: unwrap quotes and escapes.
    message = str(e.args[0]).replace('\\n', ' ').replace("\\'", "'").replace("'", '')
  else:
    message = str(e)
  return ' '.join(message.strip('"').split())


def _fail(message: str):
  print(f'error: {message}', file=sys.stderr)
  sys.exit(2)


def run_main(main):
  """absl's app.run, but bad input ends with one line on stderr and exit status 2."""

  def guarded(argv):
    if not flags.FLAGS['verbosity'].present and not _VERBOSE.value:
      # Orbax logs every checkpoint it writes at INFO: keep the epoch lines readable.
      logging.set_verbosity(logging.WARNING)
    try:
      return main(argv)
    except USER_ERRORS as e:
      if _VERBOSE.value:
        raise
      _fail(_one_line(e))

  try:
    app.run(guarded)
  except AttributeError as e:  # ml_collections' unknown --config.KEY, raised by the flag parser
    if '--verbose' in sys.argv:
      raise
    _fail(f'unknown config key {_one_line(e)} (the keys are in odn_jax/defaults.py)')
