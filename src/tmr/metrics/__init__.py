"""Trust metrics: one pure function per ModelRating key over a fetched snapshot, plus the runner.

Each module is named exactly as its rating key and exports ``compute(inp) -> MetricResult``; its
docstring is the metric's definition (motivation, method, outcome). No metric does I/O (the
optional reproducibility sandbox aside); ``runner`` times them, isolates failures and combines
them with the weights in ``net_score``.
"""
