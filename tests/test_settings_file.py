"""One settings file (clbp.env) read by every command, the environment over it, and a misspelt
name warned about by its closest real name, as a clinic's IT person would meet them."""

from __future__ import annotations

import json

import pytest

from clbp_chat.config import get_settings

from .conftest import ROOT, invoke

EMERGENCY_MESSAGE = "I suddenly can't feel my bum or between my legs and I've wet myself"


@pytest.fixture
def clinic_dir(tmp_path, monkeypatch):
    """A working directory with no settings file named in the environment (the model's export
    and learned heads still come from the repository's cache)."""
    folder = tmp_path / "clinic"
    folder.mkdir()
    monkeypatch.setenv("CLBP_MODEL_CACHE_DIR", str(ROOT / ".clbp-cache"))
    monkeypatch.chdir(folder)
    monkeypatch.delenv("CLBP_ENV_FILE")
    return folder


def test_clbp_env_in_the_working_directory_sets_the_emergency_number_of_ask(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_EMERGENCY_NUMBER=999\n")
    result = invoke("ask", "--json", EMERGENCY_MESSAGE)
    reply = json.loads(result.stdout)
    assert reply["safety_category"] == "emergency" and "999" in reply["answer"]


UK_SETTINGS = """\
CLBP_EMERGENCY_NUMBER=999
CLBP_URGENT_LINE=your GP or NHS 111
CLBP_CRISIS_LINE=Samaritans on 116 123 (free, any time)
CLBP_STAFF_TOKEN=
"""


@pytest.mark.parametrize(
    ("message", "number"),
    [
        ("I don't want to be alive anymore", "Samaritans on 116 123 (free, any time)"),
        ("I had cancer a few years ago and now my back pain is constant at night", "NHS 111"),
    ],
)
def test_uk_numbers_from_the_settings_file_reach_the_replies(clinic_dir, message, number):
    (clinic_dir / "clbp.env").write_text(UK_SETTINGS)
    reply = json.loads(invoke("ask", "--json", message).stdout)
    assert reply["outcome"] == "safety" and number in reply["answer"]


def test_ingest_reads_the_corpus_folder_from_the_settings_file(clinic_dir, monkeypatch):
    monkeypatch.delenv("CLBP_CORPUS_DIR")
    (clinic_dir / "clbp.env").write_text("CLBP_CORPUS_DIR=our-pages\n")
    result = invoke("ingest", "--quiet")
    assert result.exit_code == 1
    assert result.output.strip() == "error: corpus folder not found: our-pages"


def test_report_reads_question_logging_from_the_settings_file(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_LOG_QUESTIONS=true\n")
    assert "logging is on" in invoke("report").output


def test_environment_overrides_the_settings_file(clinic_dir, monkeypatch):
    (clinic_dir / "clbp.env").write_text("CLBP_EMERGENCY_NUMBER=999\nCLBP_PORT=8080\n")
    monkeypatch.setenv("CLBP_EMERGENCY_NUMBER", "112")
    output = invoke("settings").output
    assert "CLBP_EMERGENCY_NUMBER=112\n" in output and "CLBP_PORT=8080\n" in output


def test_settings_command_names_the_file_it_read(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_PORT=8080\n")
    assert f"# settings file: {clinic_dir / 'clbp.env'}" in invoke("settings").output


def test_clbp_env_file_names_a_settings_file_elsewhere(clinic_dir, tmp_path, monkeypatch):
    elsewhere = tmp_path / "etc" / "clinic.env"
    elsewhere.parent.mkdir()
    elsewhere.write_text("CLBP_PORT=8081\n")
    (clinic_dir / "clbp.env").write_text("CLBP_PORT=8080\n")
    monkeypatch.setenv("CLBP_ENV_FILE", str(elsewhere))
    assert "CLBP_PORT=8081\n" in invoke("settings").output


def test_dot_env_is_read_when_there_is_no_clbp_env_and_clbp_env_wins_over_it(clinic_dir):
    (clinic_dir / ".env").write_text("CLBP_PORT=8082\n")
    assert "CLBP_PORT=8082\n" in invoke("settings").output
    (clinic_dir / "clbp.env").write_text("CLBP_PORT=8080\n")
    assert "CLBP_PORT=8080\n" in invoke("settings").output


def test_misspelt_key_in_the_file_is_one_warning_naming_the_real_setting(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_EMERGENCY_NUMBR=999\n")
    result = invoke("settings")
    assert result.exit_code == 0
    warnings = [line for line in result.stderr.splitlines() if "warning" in line]
    assert warnings == [
        "clbp-chat: warning: unknown setting CLBP_EMERGENCY_NUMBR in clbp.env (ignored); "
        "did you mean CLBP_EMERGENCY_NUMBER?"
    ]


def test_misspelt_environment_variable_is_a_warning_naming_the_real_setting(
    clinic_dir, monkeypatch
):
    monkeypatch.setenv("CLBP_LOG_QUESTION", "true")
    result = invoke("settings")
    assert (
        "unknown setting CLBP_LOG_QUESTION in the environment (ignored); did you mean "
        "CLBP_LOG_QUESTIONS?" in result.stderr
    )


def test_key_without_the_prefix_that_looks_like_a_setting_is_named(clinic_dir):
    (clinic_dir / "clbp.env").write_text("EMERGENCY_NUMBER=999\n")
    assert "did you mean CLBP_EMERGENCY_NUMBER?" in invoke("settings").stderr


def test_other_tools_variables_in_a_shared_dot_env_are_not_warned_about(clinic_dir):
    (clinic_dir / ".env").write_text("DATABASE_URL=postgres://x\nDEBUG=1\nCLBP_PORT=8080\n")
    assert "warning" not in invoke("settings").stderr


def test_bad_value_in_the_file_is_one_line_naming_the_file(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_PORT=eighty\n")
    result = invoke("settings")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bad setting CLBP_PORT (in clbp.env): ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_settings_file_that_does_not_exist_is_an_error_not_the_defaults(clinic_dir, monkeypatch):
    monkeypatch.setenv("CLBP_ENV_FILE", str(clinic_dir / "clinc.env"))
    result = invoke("settings")
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"error: CLBP_ENV_FILE names {clinic_dir / 'clinc.env'}, which is not a file\n"
    )


def test_short_staff_token_is_refused_with_how_to_make_one(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_STAFF_TOKEN=secret\n")
    result = invoke("settings")
    assert result.exit_code == 1 and "at least 16 characters" in result.stderr


def test_staff_token_is_never_printed(clinic_dir):
    (clinic_dir / "clbp.env").write_text("CLBP_STAFF_TOKEN=correct-horse-battery-staple\n")
    assert "correct-horse" not in invoke("settings").output


@pytest.mark.parametrize(
    "command",
    [["ingest"], ["serve"], ["report"], ["unanswered"], ["eval"], ["settings"], ["ask", "hi"]],
)
def test_every_command_reads_the_same_settings_file(clinic_dir, command):
    (clinic_dir / "clbp.env").write_text("CLBP_ALLOWED_ORIGINS=www.myclinic.example\n")
    result = invoke(*command)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: bad setting CLBP_ALLOWED_ORIGINS (in clbp.env): ")


def test_readme_settings_file_for_a_uk_clinic_is_read_without_a_warning(clinic_dir):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = readme.split("```sh\n# clbp.env\n", 1)[1].split("```", 1)[0]
    (clinic_dir / "clbp.env").write_text(example)
    result = invoke("settings")
    assert result.exit_code == 0 and result.stderr == ""
    assert "CLBP_EMERGENCY_NUMBER=999\n" in result.stdout
    assert "CLBP_STAFF_TOKEN=None\n" in result.stdout


def test_server_built_from_the_settings_file_answers_with_its_numbers_and_staff_page(clinic_dir):
    from fastapi.testclient import TestClient

    from clbp_chat.web.server import create_app

    (clinic_dir / "clbp.env").write_text(
        "CLBP_EMERGENCY_NUMBER=999\nCLBP_STAFF_TOKEN=correct-horse-battery-staple\n"
    )
    get_settings.cache_clear()
    with TestClient(create_app(get_settings())) as client:
        reply = client.post("/api/ask", json={"question": EMERGENCY_MESSAGE}).json()
        assert reply["safety_category"] == "emergency" and "999" in reply["answer"]
        page = client.get("/staff", auth=("staff", "correct-horse-battery-staple"))
        assert page.status_code == 200 and "Question logging is off" in page.text


@pytest.mark.parametrize("name", ["CLBP_EMERGENCY_NUMBER", "CLBP_CRISIS_LINE", "CLBP_URGENT_LINE"])
def test_a_blank_number_patients_are_told_to_call_is_refused(clinic_dir, name):
    (clinic_dir / "clbp.env").write_text(f"{name}=   \n")
    result = invoke("settings")
    assert result.exit_code == 1
    assert result.stderr.startswith(f"error: bad setting {name} (in clbp.env): must not be empty")


def test_a_settings_file_that_is_not_utf8_is_one_line(clinic_dir):
    (clinic_dir / "clbp.env").write_bytes(b"CLBP_CLINIC_NAME=Caf\xe9\n")
    result = invoke("settings")
    assert result.exit_code == 1
    assert "is not UTF-8 text" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
