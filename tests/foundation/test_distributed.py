"""Which copy of a launch a process is, read from the launcher's environment before torch loads."""

from __future__ import annotations

import pytest

from stage1kit.distributed import is_main_process, launch_rank, launch_world_size, main_process_echo

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "PMI_RANK", "PMI_SIZE", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE")


@pytest.fixture(autouse=True)
def no_launcher(monkeypatch):
    for name in LAUNCH_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_without_a_launcher_the_process_is_the_only_and_main_one():
    assert (launch_rank(), launch_world_size(), is_main_process()) == (0, 1, True)


@pytest.mark.parametrize(("rank_variable", "size_variable"), [("RANK", "WORLD_SIZE"), ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE")])
def test_the_launchers_rank_decides_the_main_process(monkeypatch, rank_variable, size_variable):
    monkeypatch.setenv(size_variable, "4")
    monkeypatch.setenv(rank_variable, "3")
    assert (launch_rank(), launch_world_size(), is_main_process()) == (3, 4, False)
    monkeypatch.setenv(rank_variable, "0")
    assert is_main_process()


def test_only_the_main_process_echoes(monkeypatch):
    lines: list[str] = []
    main_process_echo(lines.append)("from rank 0")
    monkeypatch.setenv("RANK", "1")
    main_process_echo(lines.append)("from rank 1")
    assert lines == ["from rank 0"]
