"""laimark: a model writes its own coding curriculum and learns from it by RLVR.

The commands sit at the top of the package under the original LAIMARK names (generate_problems.py,
calibrate_problems.py, generate_and_calibrate_hf.py, train_grpo.py, eval_adapter.py, check.py);
each parses its flags into a typed config and calls its stage. The library lives in folders:
core/ (records, configs, runs, the solve format), execution/ (sandbox and the one harness),
models/ (loading and sampling backends), curriculum/, tasks/, training/ and evaluation/.
docs/architecture.md walks one problem through all of them.
"""

__version__ = "0.2.0"
