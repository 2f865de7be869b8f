"""Real kernel implementations, one sub-package per workload family (CPU, CuPy, peer adapters).

Each sub-package's ``__init__`` imports the modules that register its kernels with
``suite.registry.register_kernel``; compiled or optional libraries are imported lazily.
"""
