"""The command-line entry points; installed as `odn_jax.launch` and the `odn-*` commands."""
