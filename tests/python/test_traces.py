"""The CLI's trace corpus (tests/cli/traces) through heatkit.replay and
through a trace interpreter built on the Python Registry API."""
import re

import pytest

import heatkit
from heattrace import run_file
from heatutil import TRACE_DIR, assert_answers_agree, format_number

TRACES = sorted(TRACE_DIR.glob("*.trace"))
VALID = [p for p in TRACES if not p.name.startswith("error_")]
ERRORS = [p for p in TRACES if p.name.startswith("error_")]


def expected(path):
    return path.with_suffix(".expected").read_text(encoding="utf-8").splitlines()


def stderr_line(path):
    lines = path.with_suffix(".stderr").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    return lines[0]


def names(paths):
    return [p.stem for p in paths]


def test_corpus_is_there():
    assert VALID and ERRORS
    for path in TRACES:
        assert path.with_suffix(".expected").exists()
    for path in ERRORS:
        assert path.with_suffix(".stderr").exists()


@pytest.mark.parametrize("path", VALID, ids=names(VALID))
def test_python_api_interpreter_prints_expected(path, backend):
    answers, bad_line = run_file(path, backend)
    assert bad_line is None
    assert_answers_agree(answers, expected(path), backend)


@pytest.mark.parametrize("path", VALID, ids=names(VALID))
def test_replay_prints_expected(path, backend):
    lines = heatkit.replay(str(path), backend=backend)
    assert isinstance(lines, list) and all(isinstance(s, str) and "\n" not in s for s in lines)
    assert_answers_agree(lines, expected(path), backend)


@pytest.mark.parametrize("path", VALID, ids=names(VALID))
def test_interpreter_agrees_with_replay(path, backend):
    answers, _ = run_file(path, backend)
    assert_answers_agree(answers, heatkit.replay(str(path), backend=backend), backend)


@pytest.mark.parametrize("path", ERRORS, ids=names(ERRORS))
def test_replay_error_keeps_earlier_answers_and_message(path, backend):
    with pytest.raises(heatkit.TraceError) as info:
        heatkit.replay(str(path), backend=backend)
    error = info.value
    assert isinstance(error, ValueError)
    message = stderr_line(path)
    assert "error: " + str(error) == message
    assert error.line == int(re.match(r"error: line (\d+):", message).group(1))
    assert_answers_agree(list(error.lines), expected(path), backend)


@pytest.mark.parametrize("path", ERRORS, ids=names(ERRORS))
def test_interpreter_stops_at_the_malformed_line(path):
    answers, bad_line = run_file(path, "scalar")
    assert bad_line == int(re.match(r"error: line (\d+):", stderr_line(path)).group(1))
    assert answers == expected(path)


def test_replay_with_default_backend():
    path = TRACE_DIR / "format_example.trace"
    assert heatkit.replay(str(path)) == expected(path)


def test_replay_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        heatkit.replay(str(tmp_path / "no_such.trace"))


def test_trace_error_is_exported_value_error():
    assert issubclass(heatkit.TraceError, ValueError)


@pytest.mark.parametrize("path", VALID, ids=names(VALID))
def test_number_format_matches_expected_files(path):
    for line in expected(path):
        fields = line.split()
        numbers = fields[2:] if fields[0] == "emit" else fields[2:4] if fields[0] == "get" else []
        for token in numbers:
            if token not in ("absent", "none"):
                assert format_number(float(token)) == token
