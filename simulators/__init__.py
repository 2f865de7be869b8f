"""Cycle-level model of an N:M structured-sparse systolic-array accelerator.

Entry points: ``simulators.systolic.SystolicArray.from_config(load_hw_config(name))`` and
``simulate_gemm``; ``simulators.topology.simulate_topology``; ``simulators.sweep`` for
what-if sweeps; ``simulators.cli`` for ``run-suite simulate``; ``simulators.harness``
registers the ``sim:<hw>`` device and SpMM kernels. See docs/simulator.md.
"""
