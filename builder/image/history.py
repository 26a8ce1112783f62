"""The ``created_by`` text BuildKit writes into the image history for each instruction."""
from __future__ import annotations

import json

from grammar import Add, Arg, Cmd, Copy, Entrypoint, Env, ExecForm, Expose, Instruction, Label, Run, Shell, Workdir

BUILDKIT_COMMENT = "buildkit.dockerfile.v0"


def created_by(instruction: Instruction, argv: tuple[str, ...] = ()) -> str:
    """``argv`` is the expanded command of a RUN (shell included)."""
    match instruction:
        case Run():
            return f"RUN {' '.join(argv)} # buildkit"
        case Copy() | Add():
            keyword = "COPY" if isinstance(instruction, Copy) else "ADD"
            return f"{keyword} {' '.join((*instruction.sources, instruction.dest))} # buildkit"
        case Env(pairs=pairs) | Label(pairs=pairs):
            keyword = "ENV" if isinstance(instruction, Env) else "LABEL"
            return f"{keyword} " + " ".join(f"{pair.key}={pair.value}" for pair in pairs)
        case Arg(args=args):
            return "ARG " + " ".join(d.name if d.default is None else f"{d.name}={d.default}" for d in args)
        case Workdir(path=path):
            return f"WORKDIR {path}"
        case Expose(ports=ports):
            return "EXPOSE map[" + " ".join(f"{port}:{{}}" for port in sorted(ports)) + "]"
        case Cmd(cmd=command) | Entrypoint(cmd=command) if isinstance(command, ExecForm):
            return f"{type(instruction).__name__.upper()} {json.dumps(list(command.argv))}"
        case Shell(argv=argv_):
            return f"SHELL {json.dumps(list(argv_))}"
        case _:
            return instruction.source
