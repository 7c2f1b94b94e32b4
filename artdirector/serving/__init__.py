"""Serving: one process keeps the director loaded and answers HTTP (``app.create_app``), with people's
votes on candidates kept for preference training (``votes``)."""
