"""The cache flags of ``pybuild build``: declared without importing the cache machinery."""
from __future__ import annotations

import argparse


def add_cache_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-to", dest="cache_to", action="append", default=[],
                        metavar="type=local,dest=DIR|type=registry,ref=REF|type=inline",
                        help="export the build cache (all stages by default, mode=min: the image's steps) to a "
                             "directory, a registry or the image config; a failed export only warns")
    parser.add_argument("--cache-from", dest="cache_from", action="append", default=[],
                        metavar="type=local,src=DIR|type=registry,ref=REF|IMAGE",
                        help="import a build cache before building (digests are verified; a missing cache warns)")
