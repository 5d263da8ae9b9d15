"""The ``stage1kit`` command group.

Subcommands are loaded lazily (click's documented LazyGroup pattern): ``stage1kit --help`` lists
them without importing their modules, so it starts without torch or transformers. Each command's
module keeps heavy imports inside the command function.
"""

from __future__ import annotations

import importlib
import sys

import click

from stage1kit import __version__

#: command name -> "module:attribute"; a command's help line is read without importing it.
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("stage1kit.commands.pipeline:init_command", "Write a commented starter config."),
    "run": ("stage1kit.commands.pipeline:run_command", "Run the whole pipeline from a config."),
    "demo": ("stage1kit.commands.pipeline:demo_command", "Run everything offline on the sums world: exact accuracy base -> SFT -> DPO."),
    "instructions": ("stage1kit.commands.stages:instructions_command", "Generate and filter instructions."),
    "responses": ("stage1kit.commands.stages:responses_command", "Sample k candidate answers per instruction."),
    "judge": ("stage1kit.commands.stages:judge_command", "Rank candidates with the log-prob critic."),
    "merge": ("stage1kit.commands.stages:merge_command", "Join the shard files of responses or judge into the dataset."),
    "pairs": ("stage1kit.commands.stages:pairs_command", "Build SFT data and DPO pairs from judgements."),
    "train": ("stage1kit.commands.stages:train_group", "Train on gated data (sft, dpo)."),
    "evaluate": ("stage1kit.commands.pipeline:evaluate_command", "Evaluate a trained model against the base."),
    "manifest": ("stage1kit.commands.manifest:manifest_group", "Show or verify a QC manifest."),
    "audit": ("stage1kit_audit.cli:audit_command", "Statically check code for unclean model loads and chat templates."),
    "plugins": ("stage1kit.commands.info:plugins_command", "List installed plugins and what they register."),
    "doctor": ("stage1kit.commands.info:doctor_command", "Check plugins, libraries (and a config) before work."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported only when invoked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][1]) for name in sorted(LAZY_COMMANDS)]
        rows += [(name, cmd.get_short_help_str()) for name, cmd in sorted(self.commands.items())]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> object:
        """Errors meant for the user (:class:`~stage1kit.errors.Stage1kitError`) end as a message and
        their exit status; any other exception is a bug and keeps its traceback."""
        from stage1kit.errors import Stage1kitError, as_click_error

        try:
            return super().invoke(ctx)
        except Stage1kitError as exc:
            raise as_click_error(exc) from exc

    @staticmethod
    def _load(cmd_name: str) -> click.Command:
        target, _ = LAZY_COMMANDS[cmd_name]
        module_name, attribute = target.split(":")
        module = importlib.import_module(module_name)  # stage1kit: allow[SK300] reason: the lazy CLI imports its own command modules by fixed names
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stage1kit")
def cli() -> None:
    """stage1kit: post-train a base model on its own outputs, never through a chat template.

    \b
    Quick start:  stage1kit demo
    Your own run: stage1kit init my.toml && stage1kit run my.toml
    """


def _add_plugin_commands() -> None:
    from stage1kit.plugins import get_registry

    registry = get_registry()
    pm = registry.plugin_manager
    pm.hook.register_commands(cli=cli)


def main() -> None:
    """Console-script entry point."""
    try:
        _add_plugin_commands()
    except Exception as exc:  # a broken plugin must never make the CLI unusable
        click.echo(f"warning: plugin commands not loaded: {exc}", err=True)
    cli.main(prog_name="stage1kit")


if __name__ == "__main__":
    sys.exit(main())
