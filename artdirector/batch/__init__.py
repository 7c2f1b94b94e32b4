"""Directing whole files of ideas: ``run.run_batch`` (read → resume → plan → direct → write), in process or on
Ray Data (``ray_runner``)."""
