"""Where the command finds its API: flags over a named profile over STEPWISE_* over the default
profile; a profile file that holds a key must be private."""

import pytest

from stepwise_cli.config import ConfigError, Settings, resolve

PROFILES = """
[default]
url = "http://default.example"
org = "acme"
api_key = "swk_default"

[prod]
url = "https://prod.example/"
org = "initech"
api_key = "swk_prod"
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(PROFILES)
    path.chmod(0o600)
    return path


def test_the_default_profile_is_read_when_nothing_else_is_set(config):
    settings = resolve({"STEPWISE_CONFIG": str(config)})
    assert settings == Settings("http://default.example", "acme", "swk_default")


def test_variables_override_the_default_profile_and_flags_override_both(config):
    env = {"STEPWISE_CONFIG": str(config), "STEPWISE_ORG": "globex", "STEPWISE_API_KEY": "swk_env"}
    assert resolve(env) == Settings("http://default.example", "globex", "swk_env")
    flagged = resolve(env, url="http://flag.example", org="umbrella")
    assert flagged == Settings("http://flag.example", "umbrella", "swk_env")


def test_a_named_profile_wins_over_the_variables(config):
    env = {"STEPWISE_CONFIG": str(config), "STEPWISE_API_KEY": "swk_env"}
    assert resolve(env, profile="prod") == Settings("https://prod.example", "initech", "swk_prod")
    from_env = resolve({**env, "STEPWISE_PROFILE": "prod"})
    assert from_env.api_key == "swk_prod"


def test_an_unknown_profile_names_the_ones_there(config):
    with pytest.raises(ConfigError, match=r"no profile 'staging' .*default, prod"):
        resolve({"STEPWISE_CONFIG": str(config)}, profile="staging")


def test_a_file_others_can_read_is_refused_while_it_holds_a_key(config):
    config.chmod(0o644)
    with pytest.raises(ConfigError, match=r"other users can read it .*chmod 600"):
        resolve({"STEPWISE_CONFIG": str(config)})
    config.write_text('[default]\nurl = "http://x"\norg = "acme"\n')  # no key: nothing to leak
    settings = resolve({"STEPWISE_CONFIG": str(config), "STEPWISE_API_KEY": "swk_env"})
    assert settings.url == "http://x"


def test_unknown_fields_and_bad_toml_are_named(config):
    config.write_text('[default]\nurl = "http://x"\napikey = "oops"\n')
    with pytest.raises(ConfigError, match=r"unknown field.*apikey"):
        resolve({"STEPWISE_CONFIG": str(config)})
    config.write_text("[default\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        resolve({"STEPWISE_CONFIG": str(config)})


def test_what_is_missing_is_named_with_its_variable(tmp_path):
    env = {"STEPWISE_CONFIG": str(tmp_path / "none.toml"), "STEPWISE_URL": "http://x"}
    with pytest.raises(ConfigError, match=r"no org / api_key: set STEPWISE_ORG, STEPWISE_API_KEY"):
        resolve(env)


def test_the_file_defaults_to_xdg_config_home(tmp_path):
    path = tmp_path / "stepwise" / "config.toml"
    path.parent.mkdir()
    path.write_text(PROFILES)
    path.chmod(0o600)
    assert resolve({"XDG_CONFIG_HOME": str(tmp_path)}).org == "acme"
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (tmp_path / "stepwise").rename(home / ".config" / "stepwise")
    assert resolve({"HOME": str(home)}).api_key == "swk_default"


def test_the_key_is_not_in_the_settings_repr():
    assert "swk_secret" not in repr(Settings("http://x", "acme", "swk_secret"))
