"""RUN --mount values: keys, aliases, per-type defaults and BuildKit's errors."""
from __future__ import annotations

import pytest

from grammar.failures import InstructionError
from grammar.mounts import check_mount_syntax, default_id, parse_mount, preview_mount


def test_default_mount_is_a_read_only_bind() -> None:
    mount = parse_mount("target=/ctx")
    assert (mount.type, mount.target, mount.readonly) == ("bind", "/ctx", True)


@pytest.mark.parametrize(
    ("spec", "readonly"),
    [
        ("type=cache,target=/c", False),
        ("type=tmpfs,target=/t", False),
        ("type=secret,id=s", True),
        ("type=ssh", True),
        ("type=bind,target=/b,rw", False),
        ("type=bind,target=/b,readwrite=true", False),
        ("type=cache,target=/c,ro", True),
        ("type=cache,target=/c,readonly=1", True),
        ("type=cache,target=/c,rw=false", True),
    ],
)
def test_readonly_defaults_per_type_and_overrides(spec: str, readonly: bool) -> None:
    assert parse_mount(spec).readonly is readonly


@pytest.mark.parametrize("key", ["target", "dst", "destination"])
def test_target_aliases(key: str) -> None:
    assert parse_mount(f"{key}=/x").target == "/x"


@pytest.mark.parametrize("key", ["source", "src"])
def test_source_aliases(key: str) -> None:
    assert parse_mount(f"{key}=sub").source == "sub"


def test_all_cache_keys() -> None:
    mount = parse_mount("TYPE=Cache,id=go,target=/root/.cache,sharing=LOCKED,mode=0751,uid=1001,gid=1002,from=base")
    assert (mount.type, mount.id, mount.sharing, mount.mode, mount.uid, mount.gid, mount.from_) == (
        "cache", "go", "locked", 0o751, 1001, 1002, "base",
    )  # fmt: skip


def test_secret_and_ssh_keys() -> None:
    secret = parse_mount("type=secret,id=tok,env=TOKEN,required")
    assert (secret.id, secret.env, secret.required) == ("tok", "TOKEN", True)
    assert parse_mount("type=ssh,required=false").required is False


@pytest.mark.parametrize(("size", "expected"), [("128m", 128 << 20), ("1g", 1 << 30), ("64MiB", 64 << 20), ("100", 100)])
def test_tmpfs_size_uses_binary_units(size: str, expected: int) -> None:
    assert parse_mount(f"type=tmpfs,target=/t,size={size}").size == expected


def test_quoted_csv_fields() -> None:
    assert parse_mount('type=bind,"target=/a,b"').target == "/a,b"


def test_values_are_expanded_before_they_are_checked() -> None:
    env = {"$T": "cache", "$P": "/x"}
    mount = parse_mount("type=$T,target=$P", lambda word: env.get(word, word))
    assert (mount.type, mount.target, mount.readonly) == ("cache", "/x", False)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("type=tmp", 'unsupported mount type "tmp" (did you mean tmpfs?)'),
        ("typ=cache", "unexpected key 'typ' in 'typ=cache' (did you mean type?)"),
        ("type=cache,sharing=lockd", 'unsupported sharing value "lockd" (did you mean locked?)'),
        ("type=cache,target", "invalid field 'target' must be a key=value pair"),
        ("type=bind,required", "unexpected key 'required' for mount type 'bind'"),
        ("type=cache,size=1m", "unexpected key 'size' for mount type 'cache'"),
        ("type=tmpfs,size=lots", "invalid value for size: lots"),
        ("type=bind,mode=0755", 'mode not allowed for "bind" type mounts'),
        ("type=tmpfs,uid=1", 'uid not allowed for "tmpfs" type mounts'),
        ("type=cache,mode=999", "invalid value 999 for mode"),
        ("type=cache,uid=-1", "invalid value -1 for uid"),
        ("type=cache,ro=maybe", "invalid value for ro: maybe"),
        ("type=bind,sharing=shared", "invalid cache sharing set for bind mount"),
        ("type=secret", "invalid secret mount. one of source, target required"),
        ("type=secret,id=a,from=b", "secret mount should not have a from"),
        ("type=secret,id=a,sharing=shared", "secret mount should not define sharing"),
        ("type=secret,id=a,source=b", "both source and id can't be set"),
    ],
)
def test_errors_use_buildkit_wording(spec: str, message: str) -> None:
    with pytest.raises(InstructionError) as caught:
        parse_mount(spec)
    assert caught.value.message == message


def test_from_may_not_hold_a_variable_at_parse_time() -> None:
    with pytest.raises(InstructionError, match="'from' doesn't support variable expansion"):
        check_mount_syntax("type=bind,from=$STAGE")
    check_mount_syntax("type=bind,from=stage$")  # a trailing $ is not a variable
    check_mount_syntax("type=$T,target=$P")


def test_preview_keeps_raw_words_when_values_need_expansion() -> None:
    mount = preview_mount("type=cache,target=$DIR,id=$ID")
    assert (mount.type, mount.target, mount.id, mount.spec) == ("cache", "$DIR", "$ID", "type=cache,target=$DIR,id=$ID")
    assert preview_mount("type=$T,sharing=locked,target=/x").target == "/x"


def test_default_ids() -> None:
    assert default_id(parse_mount("type=cache,target=/root/.cache")) == "/root/.cache"
    assert default_id(parse_mount("type=secret,target=/run/secrets/tok")) == "tok"
    assert default_id(parse_mount("type=secret,source=aws")) == "aws"
    assert default_id(parse_mount("type=ssh")) == "default"
    assert default_id(parse_mount("type=cache,id=x,target=/y")) == "x"
