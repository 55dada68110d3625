"""Where the CLI finds its API: flags, ``STEPWISE_*`` variables and a profile file."""

import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

FIELDS = ("url", "org", "api_key")
ENV = {"url": "STEPWISE_URL", "org": "STEPWISE_ORG", "api_key": "STEPWISE_API_KEY"}
DEFAULT_PROFILE = "default"


class ConfigError(Exception):
    """The CLI cannot tell which API to call, or with what key (a usage error)."""


@dataclass(frozen=True)
class Settings:
    url: str
    org: str
    api_key: str = field(default="", repr=False)  # never printed


def config_path(env: Mapping[str, str]) -> Path:
    """``STEPWISE_CONFIG``, else ``$XDG_CONFIG_HOME/stepwise/config.toml``, else
    ``~/.config/stepwise/config.toml``."""
    if env.get("STEPWISE_CONFIG"):
        return Path(env["STEPWISE_CONFIG"]).expanduser()
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "stepwise" / "config.toml"


def read_profiles(path: Path) -> dict[str, dict[str, str]]:
    """The profiles of the file (none when it does not exist). A file that holds a key must be
    readable by its owner only, as ssh asks of a private key."""
    try:
        text = path.read_text(encoding="utf-8")
        mode = path.stat().st_mode
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    profiles: dict[str, dict[str, str]] = {}
    for name, table in data.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table of {', '.join(FIELDS)}")
        unknown = sorted(set(table) - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"{path}: [{name}] has unknown field(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(FIELDS)})"
            )
        for key, value in table.items():
            if not isinstance(value, str):
                raise ConfigError(f"{path}: [{name}] {key} must be a string")
        profiles[name] = dict(table)
    if any("api_key" in p for p in profiles.values()) and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"{path} holds an API key and other users can read it "
            f"(mode {stat.filemode(mode)}): run chmod 600 {path}"
        )
    return profiles


def resolve(
    env: Mapping[str, str],
    profile: str | None = None,
    url: str | None = None,
    org: str | None = None,
) -> Settings:
    """Flags win, then a profile named with ``--profile`` (or ``STEPWISE_PROFILE``), then the
    ``STEPWISE_*`` variables, then the ``default`` profile."""
    path = config_path(env)
    named = profile or env.get("STEPWISE_PROFILE") or None
    profiles = read_profiles(path)
    if named is not None and named not in profiles:
        known = ", ".join(sorted(profiles)) or "none"
        raise ConfigError(f"no profile {named!r} in {path} (profiles there: {known})")
    values: dict[str, str] = dict(profiles.get(DEFAULT_PROFILE, {})) if named is None else {}
    values.update({f: env[ENV[f]] for f in FIELDS if env.get(ENV[f])})
    if named is not None:
        values.update(profiles[named])
    values.update({k: v for k, v in (("url", url), ("org", org)) if v})
    missing = [f for f in FIELDS if not values.get(f)]
    if missing:
        wanted = ", ".join(ENV[f] for f in missing)
        raise ConfigError(
            f"no {' / '.join(missing)}: set {wanted}, or put {' and '.join(missing)} in a "
            f"profile of {path} (docs/cli.md)"
        )
    return Settings(url=values["url"].rstrip("/"), org=values["org"], api_key=values["api_key"])
