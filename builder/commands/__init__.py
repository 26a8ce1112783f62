"""One module per ``pybuild`` sub-command; each has ``add_arguments(parser)`` and ``run(options) -> int``."""
