"""Stopping a run where it stands: SIGTERM on one host, JAX's preemption sync point on many."""

import contextlib
import itertools
import signal
import threading

import jax

from odn_jax.run import parallel


# What stops a run where it stands: SIGTERM (what TPU and cluster schedulers send before
# preempting) and SIGINT (Ctrl-C), which then saves as SIGTERM does instead of tracing back.
SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Preempted(Exception):
  """SIGTERM or Ctrl-C arrived: the run saved its position and stopped; rerun to resume.
  `signum`: the signal (None for JAX's preemption notice on a multi-host job)."""

  def __init__(self, message: str, signum: int | None = None):
    super().__init__(message)
    self.signum = signum


class StopFlag(threading.Event):
  """Set by the first SIGTERM or SIGINT; `signum` says which."""
  signum: int | None = None

  def catch(self, signum, frame):
    del frame
    if not self.is_set():
      self.signum = signum
    self.set()


@contextlib.contextmanager
def signal_flag():
  """A StopFlag set by SIGTERM and SIGINT for the block: the handler stays for all of it,
  so a second signal during the last save is caught too, not let kill the save midway.

  On a jax.distributed job JAX's preemption service owns SIGTERM (`preemption_check`):
  nothing is installed there."""
  flag = StopFlag()
  if (threading.current_thread() is not threading.main_thread()  # signals reach it alone
      or jax.distributed.is_initialized()):
    yield flag
    return
  previous = {s: signal.signal(s, flag.catch) for s in SIGNALS}
  try:
    yield flag
  finally:
    for s, handler in previous.items():
      signal.signal(s, handler)


@contextlib.contextmanager
def preemption_check(first_step: int, flag: StopFlag | None = None):
  """`stop()`, asked before every train step from `first_step` on: True once the run must
  save and stop. `flag`: a signal_flag the caller installed (for longer than this block).

  One process: a SIGTERM sets a flag. A jax.distributed job: JAX's preemption service
  catches the SIGTERM of whichever host gets it, and every host stops at the same step
  (the sync point agreed over the coordination service), so all save the same one.
  """
  if jax.distributed.is_initialized():
    steps = itertools.count(first_step)  # one ask per step, in the same order on every host
    yield lambda: parallel.reached_preemption(next(steps))
    return
  if flag is not None:
    yield flag.is_set
    return
  with signal_flag() as flag:
    yield flag.is_set
