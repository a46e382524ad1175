"""The experiment configs; installed as `odn_jax.configs`, so `--config=NAME` finds them."""
