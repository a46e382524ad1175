"""Stopping a run where it stands: SIGTERM on one host, JAX's preemption sync point on many."""

import contextlib
import itertools
import signal
import threading

import jax

from odn_jax.run import parallel


class Preempted(Exception):
  """SIGTERM arrived: the run saved its position mid-epoch and stopped; rerun to resume."""


@contextlib.contextmanager
def sigterm_flag():
  """An Event set by SIGTERM (what TPU and cluster schedulers send before preempting)."""
  flag = threading.Event()
  if threading.current_thread() is not threading.main_thread():
    yield flag  # signals reach only the main thread
    return
  previous = signal.signal(signal.SIGTERM, lambda *_: flag.set())
  try:
    yield flag
  finally:
    signal.signal(signal.SIGTERM, previous)


@contextlib.contextmanager
def preemption_check(first_step: int):
  """`stop()`, asked before every train step from `first_step` on: True once the run must
  save and stop.

  One process: a SIGTERM sets a flag. A jax.distributed job: JAX's preemption service
  catches the SIGTERM of whichever host gets it, and every host stops at the same step
  (the sync point agreed over the coordination service), so all save the same one.
  """
  if jax.distributed.is_initialized():
    steps = itertools.count(first_step)  # one ask per step, in the same order on every host
    yield lambda: parallel.reached_preemption(next(steps))
    return
  with sigterm_flag() as flag:
    yield flag.is_set
