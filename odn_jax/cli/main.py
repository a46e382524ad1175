"""Plumbing shared by the `launch/` entry points: one exit-status convention for them all.

  0   done (and --help)
  1   a bug in odn_jax: its traceback is printed
  2   bad input: a flag, a config value, a file or the data; one line `error: ...` on stderr
  3   the loss became non-finite (odn-train; the last good checkpoint is kept)
  75  preempted by SIGTERM (odn-train; the same command resumes)
  130 interrupted by Ctrl-C (odn-train: saved as after SIGTERM; the same command resumes)
"""

import errno
import os
import sys
import traceback

from absl import app, flags, logging
import jax

from odn_jax.errors import UserError

_VERBOSE = flags.DEFINE_bool('verbose', False, 'Show the Python traceback of an error.')


def _one_line(e: BaseException) -> str:
  if isinstance(e, (AttributeError, KeyError)) and e.args:
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


def _fail(message: str, at_once: bool = False, status: int = 2):
  print(f'error: {message}', file=sys.stderr)
  if at_once:
    _exit_at_once(status)
  sys.exit(status)


def _disk_full(e: BaseException) -> OSError | None:
  """The 'no space left' error behind `e` (Orbax and TensorBoard wrap it), or None."""
  seen = set()
  while e is not None and id(e) not in seen:
    seen.add(id(e))
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
      return e
    if 'No space left on device' in str(e):
      return OSError(errno.ENOSPC, 'No space left on device')
    e = e.__cause__ or e.__context__
  return None


def _parse_flags(argv):
  """absl's flag parsing, in the convention above: help exits 0 (absl: 1), a bad flag or
  an unknown --config.KEY exits 2 with one line (absl: 1, a `FATAL` block)."""
  try:
    return flags.FLAGS(argv)
  except SystemExit as e:  # absl's --help / --helpshort / --helpfull: help is no failure
    sys.exit(0 if e.code == 1 else e.code)
  except flags.Error as e:
    _fail(f'{_one_line(e).split(" Pass --help")[0]} (--help lists the flags)')
  except (AttributeError, KeyError) as e:  # ml_collections' unknown --config.KEY or group
    if '--verbose' in argv:
      raise
    _fail(f'unknown config key {_one_line(e).replace(" Did you mean", "; did you mean")} '
          '(the keys are in odn_jax/config/defaults.py)')


def run_main(main):
  """absl's app.run, but bad input (a `UserError`, raised where input is checked, or a bad
  flag) ends with one line on stderr and exit status 2; any other exception is a bug and
  keeps its traceback."""
  def guarded(argv):
    if not flags.FLAGS['verbosity'].present and not _VERBOSE.value:
      # Orbax logs every checkpoint it writes at INFO: keep the epoch lines readable.
      logging.set_verbosity(logging.WARNING)
    try:
      return main(argv)
    except KeyboardInterrupt:  # Ctrl-C outside a training loop (which saves and stops itself)
      _fail('interrupted (Ctrl-C); what the run had saved is kept: rerun the same command to '
            'resume', status=130)
    except UserError as e:
      if _VERBOSE.value:
        if not _one_host(e):
          raise
        traceback.print_exc()
      _fail(_one_line(e), at_once=_one_host(e))
    except Exception as e:  # pylint: disable=broad-except
      full = _disk_full(e)
      if full is not None:
        where = f' writing {full.filename}' if getattr(full, 'filename', None) else ''
        _fail(f'no space left on the device{where}; the last saved checkpoint is intact: free '
              'some space and rerun the same command to resume', at_once=_one_host(e))
      if not _one_host(e):
        raise
      traceback.print_exc()  # a bug: its traceback, then out before the peers wait
      _exit_at_once(1)

  app.run(guarded, flags_parser=_parse_flags)
