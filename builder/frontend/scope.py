"""ARG and ENV scoping, BuildKit's way.

Two scopes exist. The *global* scope holds the ARGs declared before the first FROM
plus the predefined platform ARGs; it is visible only to FROM lines. Each *stage*
has an ordered env list that both ENV and valued ARGs write to (last write wins);
it is what later instructions expand against and what RUN receives. Only ENV
reaches the image config.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from grammar import Arg, Env, Instruction, record

# Expands one word against an env; raises the grammar's ExpansionError.
Expander = Callable[[str, Mapping[str, str]], str]


@record
class ArgDeclaration:
    name: str
    default: str | None  # None: `ARG X` (no value); "": `ARG X=`


def evaluate_global_args(
    declarations: Sequence[ArgDeclaration],
    build_args: Mapping[str, str],
    predefined: Mapping[str, str],
    expand: Expander,
    unexpandable: list[tuple[ArgDeclaration, Exception]] | None = None,
) -> dict[str, str]:
    """Values of the global scope: predefined ARGs, then meta ARGs in declaration order.

    A ``--build-arg`` replaces a default without the default being evaluated. A
    predefined ARG may be overridden by a build-arg of the same name. When
    ``unexpandable`` is given, a default that fails to expand is noted there and left
    unset instead of raising (``--check``: a build-arg may still supply the value).
    """
    values = {name: build_args.get(name, value) for name, value in predefined.items()}
    for declaration in declarations:
        if declaration.name in build_args:
            values[declaration.name] = build_args[declaration.name]
        elif declaration.default is not None:
            try:
                values[declaration.name] = expand(declaration.default, values)
            except Exception as exc:  # the expander's own error type; re-raised unless collecting
                if unexpandable is None:
                    raise
                unexpandable.append((declaration, exc))
                values.pop(declaration.name, None)
        else:
            # A value-less global ARG is unset, even for an automatic platform ARG (as docker does).
            values.pop(declaration.name, None)
    return values


def _set(pairs: tuple[tuple[str, str], ...], name: str, value: str) -> tuple[tuple[str, str], ...]:
    """Replace ``name`` in place if present, else append (how Config.Env is updated)."""
    if any(key == name for key, _ in pairs):
        return tuple((key, value if key == name else old) for key, old in pairs)
    return (*pairs, (name, value))


@record
class StageScope:
    """What a stage's instructions see at one point of the stage.

    Only the env that expansion and RUN use lives here; the image's own ``Env`` (ENV only)
    is the image config's business (``builder.image.config``).
    """

    state_env: tuple[tuple[str, str], ...] = ()  # ENV and valued ARGs, in write order

    @classmethod
    def from_image_env(cls, env: Sequence[str]) -> StageScope:
        return cls().with_env([(name, value) for name, _, value in (item.partition("=") for item in env)])

    def lookup(self) -> dict[str, str]:
        return dict(self.state_env)

    def with_env(self, updates: Sequence[tuple[str, str]]) -> StageScope:
        state_env = self.state_env
        for name, value in updates:
            state_env = _set(state_env, name, value)
        return StageScope(state_env)

    def with_arg(self, name: str, value: str | None) -> StageScope:
        """A declared ARG; one without a value (and no build-arg) leaves the env as it is."""
        return self if value is None else StageScope(_set(self.state_env, name, value))


def resolve_stage_arg(
    name: str,
    expanded_default: str | None,
    build_args: Mapping[str, str],
    global_values: Mapping[str, str],
) -> str | None:
    """The value an ``ARG`` inside a stage takes, or None when it stays unset.

    A build-arg wins over the default; a value-less ARG inherits the global value.
    """
    if name in build_args:
        return build_args[name]
    if expanded_default is not None:
        return expanded_default
    return global_values.get(name)


def advance(scope: StageScope, instruction: Instruction, build_args: Mapping[str, str],
            global_args: Mapping[str, str]) -> StageScope:
    """The scope after ``instruction`` (already expanded) ran: ENV and ARG write to it."""
    if isinstance(instruction, Env):
        return scope.with_env([(pair.key, pair.value) for pair in instruction.pairs])
    if isinstance(instruction, Arg):
        for decl in instruction.args:
            scope = scope.with_arg(decl.name, resolve_stage_arg(decl.name, decl.default, build_args, global_args))
    return scope
