"""Plumbing shared by the `launch/` entry points."""

import os
import sys

from absl import app, flags, logging
import jax

from odn_jax.errors import UserError

_VERBOSE = flags.DEFINE_bool('verbose', False, 'Show the Python traceback of an error.')


def _one_line(e: BaseException) -> str:
  if isinstance(e, AttributeError) and e.args:
    # ml_collections nests a KeyError's repr in its message: unwrap quotes and escapes.
    message = str(e.args[0]).replace('\\n', ' ').replace("\\'", "'").replace("'", '')
  else:
    message = str(e)
  return ' '.join(message.strip('"').split())


def _fail(message: str, at_once: bool = False):
  print(f'error: {message}', file=sys.stderr)
  if at_once:  # no exit handlers: they would wait for the other hosts
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(2)  # pylint: disable=protected-access
  sys.exit(2)


def run_main(main):
  """absl's app.run, but bad input (a `UserError`, raised where input is checked) ends with
  one line on stderr and exit status 2; any other exception is a bug and keeps its traceback."""
  started = []  # whether flags parsed and `main` began: its exceptions are never flag errors

  def guarded(argv):
    started.append(True)
    if not flags.FLAGS['verbosity'].present and not _VERBOSE.value:
      # Orbax logs every checkpoint it writes at INFO: keep the epoch lines readable.
      logging.set_verbosity(logging.WARNING)
    try:
      return main(argv)
    except UserError as e:
      if _VERBOSE.value:
        raise
      # Raised on one host of a multi-host job only: its peers go on to their next
      # collective and wait there, and exiting normally would wait for them in turn
      # (jax.distributed's shutdown). Leaving at once lets them see it gone within the
      # heartbeat timeout (odn_jax.parallel). An error every host agreed on exits normally.
      one_host = jax.distributed.is_initialized() and not getattr(e, 'agreed', False)
      _fail(_one_line(e), at_once=one_host)

  try:
    app.run(guarded)
  except AttributeError as e:  # ml_collections' unknown --config.KEY, raised by the flag parser
    if started or '--verbose' in sys.argv:
      raise
    _fail(f'unknown config key {_one_line(e)} (the keys are in odn_jax/defaults.py)')
