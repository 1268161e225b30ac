"""Benchmarks: speed, memory and quality of the service against the tools a user would pick instead.

``python -m bench.run [--smoke]``; see docs/benchmarks.md for what each figure is.
"""
