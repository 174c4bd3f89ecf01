"""Fault benchmarks: runs killed with SIGKILL, then rerun (``benchmarks/faults/kill_matrix.py``)."""
