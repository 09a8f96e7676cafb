"""Every setting the code reads is in docs/settings.md and .env.example, and nothing there is made up."""

from config import settings_table

# read from the environment outside config/settings.py's helpers, documented in the same table:
# seed 002's Redis parts, which make REDIS_URL when it is unset (config/seed_variables.py)
READ_ELSEWHERE = {"REDIS_HOST", "REDIS_PORT", "REDIS_DB"}


def test_every_setting_read_by_the_code_is_documented():
    documented = {row.name for row in settings_table.documented()}
    missing = settings_table.read_by_code() - documented
    assert not missing, f"read in config/settings.py but not in docs/settings.md: {sorted(missing)}"


def test_every_documented_setting_is_read_by_the_code():
    documented = {row.name for row in settings_table.documented()}
    made_up = documented - settings_table.read_by_code() - READ_ELSEWHERE
    assert not made_up, f"in docs/settings.md but read nowhere: {sorted(made_up)}"


def test_each_setting_is_documented_once_with_a_default():
    rows = settings_table.documented()
    names = [row.name for row in rows]
    assert len(names) == len(set(names)), sorted({n for n in names if names.count(n) > 1})
    assert all(row.default and row.what for row in rows), [row.name for row in rows if not row.default]


def test_env_example_lists_every_setting_as_the_docs_give_it():
    assert settings_table.ENV_EXAMPLE.read_text() == settings_table.env_example(), (
        ".env.example is out of date: python -m config.settings_table > .env.example"
    )
