"""Plumbing shared by the `launch/` entry points."""

import os
import sys
import traceback

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


def _exit_at_once(status: int):
  """Exits without the exit handlers: jax.distributed's would wait for the other hosts."""
  sys.stdout.flush()
  sys.stderr.flush()
  os._exit(status)  # pylint: disable=protected-access


def _one_host(e: BaseException) -> bool:
  """Whether `e` was raised on this host of a multi-host job alone. Its peers go on to
  their next collective and wait there, and exiting normally would wait for them in turn
  (jax.distributed's shutdown): leaving at once lets them see it gone within the
  heartbeat timeout (odn_jax.run.parallel). An error every host agreed on exits normally."""
  return jax.distributed.is_initialized() and not getattr(e, 'agreed', False)


def _fail(message: str, at_once: bool = False):
  print(f'error: {message}', file=sys.stderr)
  if at_once:
    _exit_at_once(2)
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
        if not _one_host(e):
          raise
        traceback.print_exc()
      _fail(_one_line(e), at_once=_one_host(e))
    except Exception as e:  # pylint: disable=broad-except
      if not _one_host(e):
        raise
      traceback.print_exc()  # a bug: its traceback, then out before the peers wait
      _exit_at_once(1)

  try:
    app.run(guarded)
  except AttributeError as e:  # ml_collections' unknown --config.KEY, raised by the flag parser
    if started or '--verbose' in sys.argv:
      raise
    _fail(f'unknown config key {_one_line(e)} (the keys are in odn_jax/config/defaults.py)')
