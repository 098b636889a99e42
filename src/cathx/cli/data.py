"""`cathx data check` and `cathx data convert`: inspect any supported dataset, or convert it to XRayCath."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from cathx.errors import DataError

# The keys of cathx.data.formats.FORMATS, spelled out so that `--help` does not import the readers
# (tests/cli/test_data.py checks that the two agree).
FORMAT_NAMES = ("xraycath", "folder", "ucl", "duke", "dicom", "video")
FormatOption = Annotated[
    Literal[FORMAT_NAMES] | None,
    typer.Option("--format", "-f", help="Dataset format (detected when omitted)."),
]
SplitOption = Annotated[
    str | None, typer.Option("--split", help="Read only this split (e.g. train, val, test).")
]


def check(
    path: Annotated[Path, typer.Argument(help="Dataset folder or file.")],
    format: FormatOption = None,
    split: SplitOption = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Decode at most this many samples (default: all).")
    ] = None,
) -> None:
    """Detect the format, print counts, sizes, label statistics and every problem; exit 2 on problems."""
    from cathx.data.formats import detect_format, open_dataset
    from cathx.data.formats.summary import capped, describe, skipped_count, summarize

    from cathx.cli.progress import progress_bar

    name = format or detect_format(path)
    reader = open_dataset(path, split=split, format=name)
    with progress_bar("decoding samples") as progress:
        summary = summarize(reader, limit, progress=progress)
    echo = typer.echo
    echo(f"format: {name}")
    echo(f"path: {path}")
    echo(f"samples: {summary.samples}" + (f" (split {split})" if split else ""))
    if summary.checked != summary.samples:
        echo(f"decoded: {summary.checked} of {summary.samples}")
    if summary.split_files:
        echo("split files:")
        for split_file, lines in summary.split_files.items():
            echo(f"  {split_file}: {lines} ids")
    else:
        echo("split files: none")
    sizes = ", ".join(f"{size} ({n})" for size, n in summary.image_sizes.most_common())
    echo(f"image sizes: {sizes or 'none decoded'}")
    if summary.mask_coverage:
        echo(
            f"masks: {len(summary.mask_coverage)} of {summary.checked} images; "
            f"coverage % {describe(summary.mask_coverage, 100.0)}"
        )
    else:
        echo("masks: none")
    if summary.electrodes_per_image:
        labelled = summary.electrodes_per_image
        echo(
            f"electrodes: {len(labelled)} of {summary.checked} images labelled, {sum(labelled)} in total; "
            f"per image {describe(labelled, digits=1)}; images with none: {labelled.count(0)}"
        )
        if summary.size_classes:
            classes = summary.size_classes
            echo(f"electrode size classes: small {classes[0]}, medium {classes[1]}, large {classes[2]}")
    else:
        echo("electrodes: no electrode labels")
    if summary.catheter_types:
        echo("catheter types: " + ", ".join(f"{k} {v}" for k, v in summary.catheter_types.most_common()))
    if summary.sequences:
        rates = ", ".join(f"{fps:g}" for fps in sorted(summary.frame_rates)) or "unknown"
        echo(f"sequences: {len(summary.sequences)}; frame rate (fps): {rates}")
    if summary.problems:
        echo(f"skipped: {skipped_count(summary.problems)} sample(s)")
        echo(f"problems ({len(summary.problems)}):")
        for problem in capped(summary.problems, 50):
            echo(f"  - {problem}")
        raise DataError(f"{path}: {len(summary.problems)} problem(s) found (listed above)")
    echo("problems: none")


def convert(
    src: Annotated[Path, typer.Argument(help="Dataset to read (any supported format).")],
    dst: Annotated[
        Path, typer.Argument(help="New folder to write in the XRayCath layout + annotations.json.")
    ],
    format: FormatOption = None,
    split: SplitOption = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace DST if it is an earlier cathx output.")
    ] = False,
    bit_depth: Annotated[Literal[8, 16], typer.Option("--bit-depth", help="PNG bit depth of the images.")] = 8,
) -> None:
    """Write SRC into DST in the XRayCath layout with annotations.json (skipped samples are listed)."""
    from cathx.data.formats.summary import capped
    from cathx.data.formats.xraycath_writer import convert_dataset

    from cathx.cli.progress import progress_bar

    with progress_bar("converting samples") as progress:
        report = convert_dataset(src, dst, format=format, split=split, overwrite=overwrite, bit_depth=bit_depth,
                                 progress=progress)
    splits = ", ".join(f"{k} {v}" for k, v in report.splits.items()) or "no split information"
    typer.echo(f"wrote {report.written} samples to {report.out} ({splits})")
    if report.problems:
        typer.echo(
            f"skipped or problems ({len(report.problems)}), also in {report.out / 'conversion.json'}:",
            err=True,
        )
        for problem in capped(report.problems, 50):
            typer.echo(f"  - {problem}", err=True)


def register(app: typer.Typer) -> None:
    """Add the `data` command group to ``app``."""
    group = typer.Typer(help="Inspect and convert datasets.", no_args_is_help=True)
    group.command("check")(check)
    group.command("convert")(convert)
    app.add_typer(group, name="data")
