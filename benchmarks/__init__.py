"""swiftdiff's benchmarks, a package run from the repository root: ``python -m benchmarks.NAME``
(``memory_vs_depth``, ``step_time``, ``operator_overhead``, ``cnn_fit``); ``make bench`` runs them
all. ``measure`` holds what they share (and what the memory tests reuse). Figures go to
``benchmarks/results``."""
