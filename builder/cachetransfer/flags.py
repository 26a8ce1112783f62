"""The cache flags of ``pybuild build``: declared without importing the cache machinery."""
from __future__ import annotations

import argparse


def add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-to", dest="cache_to", action="append", default=[],
                        metavar="type=local,dest=DIR[,mode=min|max]",
                        help="export the build cache (all stages by default); a failed export only warns")
    parser.add_argument("--cache-from", dest="cache_from", action="append", default=[],
                        metavar="type=local,src=DIR",
                        help="import a build cache before building (digests are verified)")
