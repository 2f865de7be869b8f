"""SparseCAP harness: workload registry, suite configs, runner, timing, metrics and reports.

Entry point for users is the ``run-suite`` command (``suite.cli:main``); for plug-ins it is
``suite.registry`` (``register_family``, ``register_kernel``, ``register_device_kind``).
"""

__version__ = "0.1.0"
