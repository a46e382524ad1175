"""JAX's persistent compilation cache, and a clock of the seconds spent compiling.

Every expansion compiles a new train step; with the cache on disk a rerun (or a resumed
run, or the next run of the same config) loads those programs instead of compiling them.
The clock sums JAX's own compile events, so the trainer can report what recompilation
costs against the training time of each depth.
"""

import os
import threading

import jax
from jax import monitoring

# Tracing, lowering and XLA compilation, or the load from the cache that replaces them: JAX
# times a cache hit inside backend_compile_duration (its cache_retrieval_time_sec is a part
# of it, not counted again).
_EVENTS = ('/jax/core/compile/jaxpr_trace_duration',
           '/jax/core/compile/jaxpr_to_mlir_module_duration',
           '/jax/core/compile/backend_compile_duration')

_lock = threading.Lock()
_seconds = 0.0
_listening = False


def _listen(event: str, duration: float, **_):
  global _seconds
  if event in _EVENTS:
    with _lock:
      _seconds += duration


def seconds() -> float:
  """Seconds this process has spent compiling since the first call."""
  global _listening
  with _lock:
    if not _listening:
      monitoring.register_event_duration_secs_listener(_listen)
      _listening = True
    return _seconds


def enable_cache(path: str):
  """Keeps compiled programs in `path` ('' leaves JAX's setting alone); process-wide."""
  if path:
    jax.config.update('jax_compilation_cache_dir', os.path.expanduser(path))
